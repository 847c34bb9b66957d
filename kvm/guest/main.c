// SPDX-License-Identifier: MIT
/*
 * The guest's reader loop and its oracles.  Every vCPU runs the project's
 * own readers (src/clock, compiled -DPVFUZZ_GUEST) on the kvmclock records
 * the real KVM writes, and checks what they return against the contract:
 *
 *   monotonic      a vCPU's consecutive reads never go back, except by what
 *                  a KVM_SET_CLOCK the VMM made was meant to step back;
 *   linearizable   reads taken under one guest lock (a total order across
 *                  vCPUs) never go back, with the same excuse;
 *   plausibility   a read lies between two KVM_GET_CLOCKs taken by the VMM
 *                  before and after it (kvm_clock_test.c's bracket);
 *   reference      a clock_math variant's scaling equals the 128-bit
 *                  reference on the same real record and TSC;
 *   flag_coherence PVCLOCK_GUEST_STOPPED appears only after the VMM issued
 *                  KVM_KVMCLOCK_CTRL for that vCPU (or the guest itself left
 *                  the bit in memory it handed to KVM); STABLE only when
 *                  CPUID offers it;
 *   writer_discipline  a record the guest disabled is not written any more.
 *
 * The first violation goes to kg_shared.finding and the VMM (port
 * KG_PORT_FINDING) stops the run and writes the finding.
 */
#include "guest.h"
#include "pvfuzz/clock_math_ops.h"
#include "pvfuzz/pvclock.h"

static struct pvclock_guest guest_clock;

/* ---------------------------------------------------------- reporting -- */

struct kg_val {
	const char *name;
	u64 v;
};

/* The first violation wins; later ones (any vCPU) only stop this vCPU. */
static void __attribute__((noreturn)) kg_fail(const char *oracle, const char *what, int reader,
					     const struct kg_val *vals, int n)
{
	struct kg_finding *f = &KG_SH->finding;

	if (!xchg(&f->hit, 1)) {
		f->vcpu = (u32)smp_processor_id();
		f->oracle = (u64)oracle;
		f->what = (u64)what;
		f->reader = (u32)reader;
		if (n > KG_FINDING_VALUES)
			n = KG_FINDING_VALUES;
		for (int i = 0; i < n; i++) {
			f->value_name[i] = (u64)vals[i].name;
			f->value[i] = vals[i].v;
		}
		f->nvalues = (u32)n;
		smp_mb();
		kg_out(KG_PORT_FINDING, 0);
	}
	for (;;) {
		kg_out(KG_PORT_DONE, 1);
		__asm__ __volatile__("hlt");
	}
}

/* ---------------------------------------------------- clock-set excuse -- */

/* allow_total and, while a set is in flight, its allowance (kg_shared comment) */
static u64 excuse_now(bool upper, u64 *seq)
{
	struct kg_shared *sh = KG_SH;
	u64 s, a, c;

	do {
		s = READ_ONCE(sh->set_seq);
		smp_rmb();
		a = READ_ONCE(sh->allow_total);
		c = READ_ONCE(sh->cur_allow);
		smp_rmb();
	} while (READ_ONCE(sh->set_seq) != s);
	if (seq)
		*seq = s;
	return upper && (s & 1) ? a + c : a;
}

/*
 * A clock set is in flight: its window closes only when every vCPU has
 * left guest mode twice (so each re-entered with the new record), so keep
 * exiting while waiting.
 */
static void wait_set_window(void)
{
	while (READ_ONCE(KG_SH->set_seq) & 1)
		kg_out(KG_PORT_BRACKET, 0);
}

/*
 * A step back from a (value a, excuse_lo a_lo) to b: excused when the VMM
 * meant it.  While a set is in flight its final allowance may still grow
 * (the VMM measures how long the ioctl took), so judge only once it closed.
 */
static bool step_excused(u64 a, u64 a_lo, u64 b, u64 b_hi)
{
	/* excuse totals wrap: only their difference means something */
	u64 back = a - b;
	if (b >= a || back <= b_hi - a_lo)
		return true;
	if (!(READ_ONCE(KG_SH->set_seq) & 1) && b_hi == excuse_now(true, NULL))
		return false;
	wait_set_window();
	return back <= excuse_now(true, NULL) - a_lo;
}

/* -------------------------------------------------------- guest lock -- */

/*
 * The cross-vCPU oracle's lock.  A vCPU that finds it taken reads without
 * it (per-vCPU order only) instead of spinning: the holder's thread may be
 * descheduled on the host for milliseconds.
 */
static bool kg_trylock(void)
{
	struct kg_shared *sh = KG_SH;
	if (READ_ONCE(sh->lock) || xchg(&sh->lock, 1))
		return false;
	return true; /* xchg is a full barrier */
}

static void kg_unlock(void)
{
	struct kg_shared *sh = KG_SH;
	smp_mb();
	WRITE_ONCE(sh->lock, 0);
}

/* ------------------------------------------------------------ records -- */

struct kg_snap {
	u32 version;
	u64 tsc_timestamp, system_time;
	u32 mul;
	s8 shift;
	u8 flags;
};

/* A version-consistent copy of a record (the harness's own reader). */
static void snapshot(const struct pvclock_vcpu_time_info *src, struct kg_snap *s)
{
	unsigned v;
	do {
		v = pvclock_read_begin(src);
		s->tsc_timestamp = READ_ONCE(src->tsc_timestamp);
		s->system_time = READ_ONCE(src->system_time);
		s->mul = READ_ONCE(src->tsc_to_system_mul);
		s->shift = READ_ONCE(src->tsc_shift);
		s->flags = READ_ONCE(src->flags);
	} while (pvclock_read_retry(src, v));
	s->version = v;
}

/*
 * kvm_check_and_clear_guest_paused(): the guest consumes GUEST_STOPPED on
 * its own record.  KVM writes the record only while this vCPU is out of
 * guest mode, so a plain RMW of flags is what Linux does and is safe.
 */
static void check_guest_stopped(int cpu, int reader)
{
	struct kg_vcpu *me = &KG_SH->vcpu[cpu];
	struct pvclock_vcpu_time_info *src = this_cpu_pvti(&guest_clock);
	u64 issued;

	if (!(READ_ONCE(src->flags) & PVCLOCK_GUEST_STOPPED))
		return;
	issued = READ_ONCE(me->ctrl_count);
	if (issued == me->ctrl_acked && !me->stopped_by_guest) {
		struct kg_val v[] = { { "ctrl_issued", issued }, { "ctrl_acked", me->ctrl_acked },
				      { "version", READ_ONCE(src->version) } };
		kg_fail("flag_coherence",
			"PVCLOCK_GUEST_STOPPED set in this vCPU's record without a KVM_KVMCLOCK_CTRL for it",
			reader, v, 3);
	}
	me->ctrl_acked = issued;
	me->stopped_by_guest = 0;
	WRITE_ONCE(src->flags, READ_ONCE(src->flags) & ~PVCLOCK_GUEST_STOPPED);
	me->stopped_seen++;
}

/* ------------------------------------------------------------ readers -- */

/*
 * A clock_math variant on real records: mainline's version window around
 * the variant's scale_delta, checked bit for bit against the 128-bit
 * reference on the same snapshot and TSC (CO4).
 */
static u64 clock_math_read(const struct pv_variant *var, int reader, struct kg_vcpu *me)
{
	struct clock_math_ops ops = *(const struct clock_math_ops *)var->ops;
	const struct pvclock_vcpu_time_info *src;
	u64 tsc, ts, st, got, want;
	unsigned version;
	u32 mul;
	s8 shift;

	clock_math_fill(&ops);
	src = this_cpu_pvti(&guest_clock);
	do {
		version = pvclock_read_begin(src);
		tsc = rdtsc_ordered();
		ts = READ_ONCE(src->tsc_timestamp);
		st = READ_ONCE(src->system_time);
		mul = READ_ONCE(src->tsc_to_system_mul);
		shift = READ_ONCE(src->tsc_shift);
	} while (pvclock_read_retry(src, version));

	got = st + ops.scale_delta(tsc - ts, mul, shift);
	want = ref_pvclock_ns(ts, st, mul, shift, tsc);
	me->checks++;
	if (got != want) {
		struct kg_val v[] = { { "got", got }, { "want", want }, { "tsc", tsc },
				      { "tsc_timestamp", ts }, { "system_time", st },
				      { "mul", mul }, { "shift", (u64)(s64)shift },
				      { "version", version } };
		kg_fail("reference", "scale_delta on a real kvmclock record differs from the 128-bit reference",
			reader, v, 8);
	}
	return got;
}

/* One read with reader k of the run; *fallback: it asked for the syscall. */
static u64 do_read(int k, struct kg_vcpu *me, bool *fallback)
{
	const struct pv_variant *var = kg_variant_at((int)KG_SH->reader[k]);
	u64 t;

	*fallback = false;
	if (var->protocol == PV_CLOCK_MATH)
		return clock_math_read(var, k, me);
	t = ((const struct pvclock_reader_ops *)var->ops)->read(&guest_clock);
	if (t == PVCLOCK_FALLBACK) {
		/* the vDSO's syscall: the kernel's clocksource read */
		const struct pv_variant *kern = kg_mainline(PV_PVCLOCK, PV_READER);
		*fallback = true;
		me->fallbacks++;
		t = ((const struct pvclock_reader_ops *)kern->ops)->read(&guest_clock);
	}
	return t;
}

/* ---------------------------------------------------------- relocation -- */

/*
 * Every vCPU disables its record (MSR_KVM_SYSTEM_TIME_NEW = 0), the records
 * stay disabled for relocate_hold cycles while the host keeps operating,
 * then each vCPU enables its record in bank relocate_bank (the same one or
 * the other), as a guest does across kexec or hibernation.  All vCPUs meet
 * first so no reader uses a record mid-move.
 */
static void relocate(int cpu, u64 gen)
{
	struct kg_shared *sh = KG_SH;
	u32 n = sh->nr_vcpus;
	u32 bank = READ_ONCE(sh->bank), to = READ_ONCE(sh->relocate_bank);
	struct pvclock_vsyscall_time_info *old = (void *)(bank ? KG_PVTI_BANK1 : KG_PVTI_BANK0);
	struct pvclock_vsyscall_time_info *new = (void *)(to ? KG_PVTI_BANK1 : KG_PVTI_BANK0);
	struct kg_snap before, after;
	u64 t0;

	/* rendezvous 1: everyone stopped reading (the VMM bumps gen by one at a time) */
	pv_fetch_add(&sh->park_count, 1);
	while (READ_ONCE(sh->park_count) < (2 * gen - 1) * n)
		kg_out(KG_PORT_PARKED, 0);

	kg_wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
	snapshot(&old[cpu].pvti, &before);
	t0 = rdtsc();
	while (rdtsc() - t0 < READ_ONCE(sh->relocate_hold))
		kg_out(KG_PORT_PARKED, 0); /* exits: the host may update now */
	snapshot(&old[cpu].pvti, &after);
	if (after.version != before.version || after.system_time != before.system_time ||
	    after.tsc_timestamp != before.tsc_timestamp) {
		struct kg_val v[] = { { "version_at_disable", before.version },
				      { "version_later", after.version },
				      { "system_time_at_disable", before.system_time },
				      { "system_time_later", after.system_time },
				      { "record_gpa", (u64)&old[cpu].pvti } };
		kg_fail("writer_discipline",
			"KVM wrote a kvmclock record after the guest disabled it (MSR_KVM_SYSTEM_TIME_NEW = 0)",
			0, v, 5);
	}
	/* the memory may have held other data: KVM must write a whole record */
	u64 fill = READ_ONCE(sh->relocate_fill);
	for (unsigned i = 0; i < sizeof(new[cpu]) / 8; i++)
		((volatile u64 *)&new[cpu])[i] = fill;
	/*
	 * KVM keeps GUEST_STOPPED from the guest's copy when it rewrites a
	 * record (kvm_setup_guest_pvclock), so a stale bit in the reused
	 * memory is this guest's own store, not the host's.
	 */
	if (READ_ONCE(new[cpu].pvti.flags) & PVCLOCK_GUEST_STOPPED)
		sh->vcpu[cpu].stopped_by_guest = 1;
	kg_wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (u64)&new[cpu].pvti | KG_MSR_ENABLED);
	WRITE_ONCE(sh->pvti_gpa[cpu], (u64)&new[cpu].pvti);
	sh->vcpu[cpu].relocations++;

	/* rendezvous 2: vCPU 0 switches hv_clock once everyone moved */
	pv_fetch_add(&sh->park_count, 1);
	while (READ_ONCE(sh->park_count) < 2 * gen * n)
		kg_out(KG_PORT_PARKED, 0);
	if (cpu == 0) {
		guest_clock.hv_clock = new;
		WRITE_ONCE(sh->bank, to);
		smp_mb();
		WRITE_ONCE(sh->park_gen, (u32)gen);
	}
	while (READ_ONCE(sh->park_gen) != (u32)gen)
		cpu_relax();
}

/* -------------------------------------------------------------- boot -- */

struct idt_gate {
	u16 off0, sel;
	u8 ist, type;
	u16 off1;
	u32 off2, zero;
};
extern const u64 guest_exc_stubs[32];

static void load_idt(void)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) d = { 32 * sizeof(struct idt_gate) - 1, KG_IDT };

	__asm__ __volatile__("lidt %0" :: "m"(d));
}

static void build_idt(void)
{
	struct idt_gate *idt = (void *)KG_IDT;
	for (int i = 0; i < 32; i++) {
		u64 a = guest_exc_stubs[i];
		idt[i] = (struct idt_gate){ .off0 = (u16)a, .sel = 8, .type = 0x8e,
					    .off1 = (u16)(a >> 16), .off2 = (u32)(a >> 32) };
	}
}

/* vCPU 0: the registry, CPUID, the IDT; then the VMM configures the run. */
static void boot_cpu0(void)
{
	struct kg_shared *sh = KG_SH;
	u32 a, b, c, d;

	kg_run_constructors();
	build_idt();
	kg_cpuid(0, &a, &b, &c, &d);
	kg_set_hypercall_amd(b == 0x68747541 /* "Auth"enticAMD */ || b == 0x6f677948 /* Hygon */);
	kg_cpuid(0x40000000, &a, &b, &c, &d);
	sh->kvm_features = 0;
	if (b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d /* "KVMKVMKVM\0\0\0" */) {
		kg_cpuid(0x40000001, &a, &b, &c, &d);
		sh->kvm_features = a;
	}
	sh->valid_flags = sh->kvm_features & (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) ?
				  PVCLOCK_TSC_STABLE_BIT : 0;
	for (int i = 0; i < kg_variant_count() && i < KG_MAX_VARIANTS; i++) {
		const struct pv_variant *v = kg_variant_at(i);
		u32 kind = KG_VAR_OTHER;
		if (v->role == PV_READER && v->protocol == PV_PVCLOCK &&
		    !((const struct pvclock_reader_ops *)v->ops)->host)
			kind = KG_VAR_PVCLOCK_READER;
		else if (v->role == PV_READER && v->protocol == PV_CLOCK_MATH &&
			 (((const struct clock_math_ops *)v->ops)->scale_delta || (v->flags & PV_MAINLINE)))
			kind = KG_VAR_CLOCK_MATH; /* only the guest's scaling runs on real records */
		else if (v->role == PV_READER && v->protocol == PV_HV_TSCPAGE)
			kind = KG_VAR_HV_READER;
		sh->var[i] = (struct kg_variant){ .name = (u64)v->name, .expect = (u64)v->expect,
						  .bug = (u64)v->bug, .protocol = v->protocol,
						  .role = v->role, .flags = v->flags, .kind = kind };
	}
	sh->nr_variants = (u32)kg_variant_count();
	smp_mb();
	kg_out(KG_PORT_BOOTED, 0);
}

/* ---------------------------------------------------------- the loop -- */

struct kg_bracket {
	u64 clock, set_seq;
	bool ok;
};

static void bracket(struct kg_vcpu *me, struct kg_bracket *b)
{
	kg_out(KG_PORT_BRACKET, 1);
	smp_rmb();
	b->clock = READ_ONCE(me->bracket_clock);
	b->set_seq = READ_ONCE(me->bracket_set_seq);
	b->ok = READ_ONCE(me->bracket_ok);
}

/*
 * How far a read may stray outside [GET before, GET after].  A STABLE
 * record is computed from the same master copy KVM_GET_CLOCK uses: only
 * rounding.  A per-vCPU record extrapolates the host clock at the guest
 * TSC rate from its own anchor, so it may drift by the TSC calibration
 * error times its age; 1000 ppm is far above any calibrated TSC.
 */
static u64 bracket_slack(const struct kg_snap *s, u64 t)
{
	if (s->flags & PVCLOCK_TSC_STABLE_BIT)
		return 1000;
	return 20000 + (t > s->system_time ? (t - s->system_time) / 1000 : 0);
}

/* the highest value any read returned so far */
static void raise_high(u64 t)
{
	u64 h = READ_ONCE(KG_SH->high);
	while (t > h && !try_cmpxchg(&KG_SH->high, &h, t))
		;
}


/*
 * "held": after the VMM set the clock (set_seq != 0), the
 * kernel reader's last_value keeps returning the highest value it already
 * returned until the new clock catches up, while a reader without it (the
 * vDSO) returns the new clock - Linux does the same.  A held read is no
 * higher than what was returned before it and no higher than last_value;
 * it is checked against the baselines but does not become one, so the next
 * fresh read is compared with the last fresh one.  Above the bracket only
 * a held read is excused: a new, higher value never is.
 */
void guest_main(u32 cpu)
{
	struct kg_shared *sh = KG_SH;
	struct kg_vcpu *me = &sh->vcpu[cpu];
	struct kg_ring *ring = (struct kg_ring *)KG_RINGS + cpu;
	u64 prev = 0, prev_lo = 0, n = 0, reloc_seen = 0;
	int prev_reader = 0;
	bool have_prev = false;

	if (cpu == 0)
		boot_cpu0();
	while (!READ_ONCE(sh->go))
		cpu_relax();
	load_idt();

	guest_clock.hv_clock = (void *)KG_PVTI_BANK0;
	guest_clock.nr_cpus = (int)sh->nr_vcpus;
	guest_clock.last_value = (atomic64_t *)&sh->last_value;
	guest_clock.valid_flags = (u8)sh->valid_flags;
	/* kvm_register_clock(): this vCPU's own MSR write */
	kg_wrmsr(MSR_KVM_SYSTEM_TIME_NEW, KG_PVTI_BANK0 + 64 * (u64)cpu + KG_MSR_ENABLED);
	WRITE_ONCE(sh->pvti_gpa[cpu], KG_PVTI_BANK0 + 64 * (u64)cpu);
	WRITE_ONCE(me->booted, 1);
	/* start together, so the first reads already race */
	for (u32 i = 0; i < sh->nr_vcpus; i++)
		while (!READ_ONCE(sh->vcpu[i].booted))
			cpu_relax();

	while (!READ_ONCE(sh->stop)) {
		int k = (int)(n % sh->nr_readers);
		bool locked = !(sh->free_every && n % sh->free_every == sh->free_every - 1);
		bool brk = sh->bracket_every && n % sh->bracket_every == 0;
		struct kg_bracket b1 = { 0 }, b2 = { 0 };
		struct kg_snap s;
		bool fallback;
		u64 t, tsc, lo, hi, gen, high;
		bool held;

		gen = READ_ONCE(sh->relocate_gen);
		if (gen != reloc_seen) {
			relocate((int)cpu, gen);
			reloc_seen = gen;
		}
		if (READ_ONCE(sh->set_seq) & 1)
			kg_out(KG_PORT_BRACKET, 0); /* let the set's window close */
		if (brk)
			bracket(me, &b1);
		if (locked)
			locked = kg_trylock();
		lo = excuse_now(false, NULL);
		high = READ_ONCE(sh->high);
		t = do_read(k, me, &fallback);
		tsc = rdtsc_ordered();
		hi = excuse_now(true, NULL);
		snapshot(this_cpu_pvti(&guest_clock), &s);

		/* logged before the checks, so a finding shows the read that fired */
		struct kg_read *r = &ring->r[ring->head % KG_RING_SIZE];
		*r = (struct kg_read){ .value = t, .tsc = tsc, .excuse_lo = lo, .excuse_hi = hi,
				       .system_time = s.system_time, .tsc_timestamp = s.tsc_timestamp,
				       .version = s.version, .mul = s.mul, .shift = s.shift,
				       .flags = s.flags, .reader = (u8)k,
				       .kind = (u8)((locked ? KG_READ_LOCKED : KG_READ_FREE) |
						    (fallback ? KG_READ_FALLBACK : 0)),
				       .seq = (u32)n };
		smp_wmb();
		WRITE_ONCE(ring->head, ring->head + 1);
		held = READ_ONCE(sh->set_seq) && t <= high && t <= (u64)READ_ONCE(sh->last_value);
		if ((s.flags & PVCLOCK_TSC_STABLE_BIT) && !(sh->valid_flags & PVCLOCK_TSC_STABLE_BIT)) {
			struct kg_val v[] = { { "flags", s.flags }, { "kvm_features", sh->kvm_features } };
			kg_fail("flag_coherence",
				"PVCLOCK_TSC_STABLE_BIT in a record although CPUID lacks KVM_FEATURE_CLOCKSOURCE_STABLE_BIT",
				k, v, 2);
		}
		me->checks++;
		if (have_prev && !step_excused(prev, prev_lo, t, hi)) {
			struct kg_val v[] = { { "prev", prev }, { "now", t }, { "back_ns", prev - t },
					      { "excuse_ns", hi - prev_lo }, { "prev_reader", (u64)prev_reader },
					      { "tsc", tsc }, { "version", s.version }, { "flags", s.flags } };
			if (locked)
				kg_unlock();
			kg_fail("monotonic", "a vCPU's read went back in time", k, v, 8);
		}
		if (locked) {
			u64 last = sh->last_locked_value, last_lo = sh->last_locked_lo;
			me->checks++;
			if (last && t < last && !step_excused(last, last_lo, t, hi)) {
				struct kg_val v[] = { { "last", last }, { "now", t }, { "back_ns", last - t },
						      { "excuse_ns", hi - last_lo },
						      { "last_vcpu", sh->last_locked_vcpu },
						      { "last_reader", sh->last_locked_reader },
						      { "version", s.version }, { "flags", s.flags } };
				kg_unlock();
				kg_fail("linearizable",
					"a read under the guest lock went back behind the previous locked read "
					"(another vCPU's)", k, v, 8);
			}
			if (!held) {
				sh->last_locked_value = t;
				sh->last_locked_lo = lo;
				sh->last_locked_vcpu = cpu;
				sh->last_locked_reader = (u32)k;
			}
			me->locked_reads++;
			kg_unlock();
		}
		if (brk) {
			bracket(me, &b2);
			me->brackets++;
			if (!b1.ok || !b2.ok || b1.set_seq != b2.set_seq || (b1.set_seq & 1)) {
				me->brackets_excused++;
			} else {
				u64 slack = bracket_slack(&s, t);
				me->checks++;
				if (t + slack < b1.clock || (t > b2.clock + slack && !held)) {
					struct kg_val v[] = { { "get_before", b1.clock }, { "read", t },
							      { "get_after", b2.clock }, { "slack_ns", slack },
							      { "flags", s.flags }, { "version", s.version },
							      { "record_system_time", s.system_time },
							      { "tsc", tsc } };
					kg_fail("plausibility",
						"a read outside [KVM_GET_CLOCK before, KVM_GET_CLOCK after]", k, v, 8);
				}
			}
		}
		check_guest_stopped((int)cpu, k);
		raise_high(t);

		if (!held) {
			prev = t;
			prev_lo = lo;
			prev_reader = k;
			have_prev = true;
		}
		WRITE_ONCE(me->reads, me->reads + 1);
		n++;
	}
	for (;;) {
		kg_out(KG_PORT_DONE, 0);
		__asm__ __volatile__("hlt");
	}
}
