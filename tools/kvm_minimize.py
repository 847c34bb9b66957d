#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Shrink the host-operation input of a pvfuzz-kvm finding.

usage: tools/kvm_minimize.py FINDING_DIR [--exe build/std/kvm/pvfuzz-kvm]
                             [--tries 3] [--seconds S] [--out FILE]

A real KVM does not replay bit for bit, so a candidate counts as "still
fails" when any of --tries runs reports the finding's oracle.  Records are
kvm/host_ops.h's (their size, REC, is all this script knows); the script removes chunks of records (ddmin),
then tries each record's wait as 0.  The result is written to --out
(default FINDING_DIR/input.min) and printed as a list of operations.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

REC = 16
SUMMARY_RE = re.compile(r"SUMMARY: pvfuzz: ([a-z_]+) variant=([^ ]+)")


def fails(a, oracle, readers, vcpus, data):
    with tempfile.TemporaryDirectory(prefix="kvm-min-") as d:
        inp = os.path.join(d, "input")
        with open(inp, "wb") as f:
            f.write(data)
        for _ in range(a.tries):
            p = subprocess.run([a.exe, "--input", inp, "--readers", readers, "--vcpus", str(vcpus),
                                "--duration", str(a.seconds), "--findings", d],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=a.seconds * 4 + 60)
            m = SUMMARY_RE.search(p.stderr.decode("utf-8", "replace"))
            if p.returncode == 77:
                sys.exit("pvfuzz-kvm skipped: " + p.stdout.decode().strip())
            if p.returncode == 1 and m and m.group(1) == oracle:
                return True
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("finding")
    ap.add_argument("--exe", default=os.path.join(os.path.dirname(__file__), "..", "build", "std", "kvm",
                                                  "pvfuzz-kvm"))
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    with open(os.path.join(a.finding, "report.txt")) as f:
        report = f.read()
    m = SUMMARY_RE.search(report)
    if not m:
        sys.exit("no SUMMARY line in %s/report.txt" % a.finding)
    oracle, readers = m.group(1), m.group(2).replace("+", ",")
    vcpus = int(re.search(r"run: (\d+) vCPUs", report).group(1))
    with open(os.path.join(a.finding, "input"), "rb") as f:
        data = f.read()
    recs = [data[i:i + REC] for i in range(0, len(data), REC)]
    if not a.seconds:
        waits = sum(int.from_bytes(r[4:8].ljust(4, b"\0"), "little") % 1000000 for r in recs)
        a.seconds = max(2.0, waits / 1e6 + 1.5)
    print("%s with %s, %d operations, %.1f s per try" % (oracle, readers, len(recs), a.seconds), flush=True)
    if not fails(a, oracle, readers, vcpus, b"".join(recs)):
        sys.exit("the input does not fail within %d tries: nothing to minimize" % a.tries)
    n = 2
    while len(recs) >= 2:
        chunk = max(1, len(recs) // n)
        reduced = False
        for i in range(0, len(recs), chunk):
            cand = recs[:i] + recs[i + chunk:]
            if cand and fails(a, oracle, readers, vcpus, b"".join(cand)):
                recs, n, reduced = cand, max(n - 1, 2), True
                print("  %d operations" % len(recs), flush=True)
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(n * 2, len(recs))
    for i, r in enumerate(recs):
        if r[4:8] != b"\0\0\0\0":
            cand = list(recs)
            cand[i] = r[:4] + b"\0\0\0\0" + r[8:]
            if fails(a, oracle, readers, vcpus, b"".join(cand)):
                recs = cand
    out = a.out or os.path.join(a.finding, "input.min")
    with open(out + ".tmp", "wb") as f:
        f.write(b"".join(recs))
    os.replace(out + ".tmp", out)
    print("minimized to %d operations -> %s" % (len(recs), out))
    # the encoding lives in kvm/host_ops.c only: let pvfuzz-kvm decode it
    subprocess.run([a.exe, "--decode", out, "--vcpus", str(vcpus)])


if __name__ == "__main__":
    main()
