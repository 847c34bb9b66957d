// SPDX-License-Identifier: MIT
/*
 * The simulator's IPIs: a vCPU whose only task has finished is idle and
 * still takes and acknowledges IPIs (the sender's wait returns, the handler
 * runs on the target vCPU, with IRQs off), under either schedule kind and
 * with the target's delivery held for a while.
 */
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"

static int failures;
#define CHECK(c)                                                                 \
	do {                                                                     \
		if (!(c)) {                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
			failures++;                                              \
		}                                                                \
	} while (0)

static int handled_on = -1, handled;
static int sent;
static int spin_first;

static void handler(void *info)
{
	handled_on = smp_processor_id();
	handled++;
	(void)READ_ONCE(*(int *)info); /* a scheduling point inside the handler */
}

static void short_task(void *arg)
{
	(void)READ_ONCE(*(int *)arg); /* one step, then the task exits */
}

static void sender(void *arg)
{
	for (int k = 0; k < spin_first; k++)
		cpu_relax(); /* let the target's task finish first */
	smp_call_function_many(1ULL << 1, handler, arg, true);
	sent = 1;
}

static void run_one(const u8 *bytes, size_t n, int spins, bool hold)
{
	struct fdp in;
	struct sim_config cfg = { 0 };
	fdp_init(&in, bytes, n);
	cfg.nr_cpus = 2;
	cfg.mode = n ? bytes[0] & SIM_MODE_SPARSE : 0;
	handled_on = -1;
	handled = sent = 0;
	spin_first = spins;
	sim_reset(&cfg, &in);
	int *word = sim_shared_alloc(sizeof(int), 8);
	sim_spawn("sender", sender, word, 0, true);
	sim_spawn("target", short_task, word, 1, true);
	if (hold)
		sim_ipi_hold(1, 40);
	sim_run();
	CHECK(sent == 1);
	CHECK(handled == 1);
	CHECK(handled_on == 1);
	CHECK(sim_run_completed());
}

int main(void)
{
	static const u8 pct[] = { 0x00, 0, 0, 0, 0 };
	static const u8 sparse[] = { 0x01, 0, 0, 0 };
	for (int spins = 0; spins < 6; spins++) {
		run_one(pct, sizeof(pct), spins, false);
		run_one(sparse, sizeof(sparse), spins, false);
		run_one(pct, sizeof(pct), spins, true);
		run_one(NULL, 0, spins, true);
	}
	if (failures)
		return 1;
	printf("test_sim_ipi: IPIs to an idle vCPU are handled there and acknowledged\n");
	return 0;
}
