#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes corpora/pvclock/seeds/*: hand-made starting points (layout in README.md)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TSC_BASE = 0x10000000000


def rec(version, tsc, sys_ns, mul, shift, flags):
    """struct pvclock_vcpu_time_info, 32 bytes, little-endian."""
    return struct.pack("<IIQQIbB2x", version, 0, tsc, sys_ns, mul, shift, flags)


def shape(vcpus, readers, reads):
    return (vcpus - 1) | ((readers - 1) << 2) | ((reads - 1) << 4)


def pct_tail(prios, changes, events=()):
    """Tail, read from the end: priorities (one per fiber: kvm, reader0..),
    change-point count, u16 change points, event count, (delta, kind, arg)."""
    t = list(prios) + [len(changes)]
    for c in changes:
        t += [c >> 8, c & 0xff][::-1]  # fdp_tail_u16: low byte last
    t += [len(events)]
    for d, k, a in events:
        t += [d, k, a]
    return bytes(reversed(t))


def sparse_tail(events):
    t = [len(events)]
    for d, k, a in events:
        t += [d, k, a]
    return bytes(reversed(t))


SEEDS = {
    # all defaults: 2 vCPUs, 3 readers x 2 reads, 4 masterclock updates, PCT
    "00-defaults": b"",
    # 2 vCPUs, 3 readers x 4 reads, 8 updates mixing all four actions
    "01-mixed-updates": bytes([0x00, shape(2, 3, 4), 0x07, 0x80, 0x07]) +
        bytes([0, 2, 1, 0, 6, 3, 3, 1, 2, 0, 5, 2, 0, 1, 7, 0]) +
        pct_tail([10, 200, 100, 50], [40, 300]),
    # x86-TSO store buffers, compiler reordering and RDTSC hoisting on
    "02-tso-reorder-hoist": bytes([0x1a, shape(2, 2, 3), 0x05, 0x40, 0x03]) +
        bytes([0, 1, 5, 0, 0, 2, 1, 1, 3, 0, 1, 0]) +
        pct_tail([50, 10, 200], [20, 120, 500], [(30, 5, 0), (10, 5, 1)]),
    # per-vCPU TSC skew (masterclock off), migrations and a frequency change
    "03-skew-migrate": bytes([0x04, shape(3, 2, 4), 0x06, 0xc0, 0xf0, 0x10, 0x00, 0x7f, 0x03]) +
        bytes([1, 0, 5, 1, 9, 2, 0, 3, 1, 0, 5, 1, 0, 0]) +
        pct_tail([9, 100, 90], [64], [(40, 1, 0x08), (40, 1, 0x10), (20, 3, 30), (30, 1, 0x00)]),
    # adversarial page images: boot records then updates, STABLE toggling
    "04-adversarial-images": bytes([0x00, shape(2, 2, 2), 0x13, 0x80, 0x07]) +
        rec(2, TSC_BASE, 1000, 0x80000000, 1, 1) + rec(2, TSC_BASE, 1000, 0x80000000, 1, 1) +
        bytes([0, 1]) + rec(4, TSC_BASE + 0x1000, 2000, 0x80000000, 1, 0) +
        bytes([4, 0]) + rec(5, TSC_BASE + 0x2000, 3000, 0xc8000000, -1, 1) +
        bytes([0, 2]) + rec(6, TSC_BASE + 0x3000, 4000, 0x80000000, 1, 3) +
        pct_tail([5, 50, 60], [100, 200]),
    # tsc_always_catchup (every exit republishes), one reader
    "05-always-catchup": bytes([0x00, shape(1, 1, 4), 0x23, 0x80, 0x07]) +
        bytes([1, 0, 1, 0, 1, 0, 1, 0]) + pct_tail([1, 200], []),
    # sparse preemption list instead of PCT
    "06-sparse-preempt": bytes([0x01, shape(2, 2, 4), 0x05, 0x80, 0x07]) +
        bytes([0, 1, 1, 0, 0, 2, 3, 0, 1, 1, 0, 0]) +
        sparse_tail([(3, 0, 1), (2, 0, 0), (5, 0, 2), (1, 0, 0), (7, 2, 0x04)]),
    # 4 vCPUs, host preemption of vCPUs, masterclock toggles
    "07-four-vcpus-host-preempt": bytes([0x00, shape(4, 3, 3), 0x07, 0x70, 0x10]) +
        bytes([2, 0, 0, 1, 2, 0, 3, 0, 6, 1, 2, 0, 0, 2, 1, 1]) +
        pct_tail([30, 60, 90, 20], [10, 90, 400], [(20, 2, 0x21), (60, 2, 0x42)]),
}

if __name__ == "__main__":
    d = os.path.join(HERE, "seeds")
    os.makedirs(d, exist_ok=True)
    for name, b in SEEDS.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)
    print("wrote %d seeds to %s" % (len(SEEDS), d))
