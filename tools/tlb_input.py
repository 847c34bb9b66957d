#!/usr/bin/env python3
"""Build a tlb_flush input by hand: front bytes, then schedule events.

  tlb_input.py OUT --front 01,00,00,02,00 --ev 1:SW:1 --ev 6:SW:0 ...

Events are absolute steps; kinds: SW (switch/boost fiber), MIG, HP (host
preempt: arg = cpu | duration<<2), SC (scenario: batch failures),
SC2 (scenario: IPI hold).  The PCT header (priorities, change points) is
only emitted with --pct PRIO,PRIO,..:CP,CP.
"""
import argparse

KINDS = {'SW': 0, 'MIG': 1, 'HP': 2, 'TSC': 3, 'WR': 4, 'SB': 5, 'SC': 6, 'SC2': 7}

ap = argparse.ArgumentParser()
ap.add_argument('out')
ap.add_argument('--front', default='')
ap.add_argument('--ev', action='append', default=[])
ap.add_argument('--pct', default=None)
a = ap.parse_args()
front = bytes(int(x, 16) for x in a.front.split(',') if x)
tail = []  # consumed from the end: build in consumption order, then reverse
if a.pct is not None:
    prios, cps = a.pct.split(':')
    for p in prios.split(','):
        tail.append(int(p))
    cps = [int(c) for c in cps.split(',') if c]
    tail.append(len(cps))
    for c in cps:  # fdp_tail_u16: data[back-1] | data[back-2] << 8
        tail += [c & 0xff, c >> 8]
evs = sorted((int(s), KINDS[k], int(g)) for s, k, g in (e.split(':') for e in a.ev))
tail.append(len(evs))
at = 0
for s, k, g in evs:
    tail += [s - at, k, g]
    at = s
open(a.out, 'wb').write(front + bytes(reversed(tail)))
