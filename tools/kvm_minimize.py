#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Shrink the host operations of a pvfuzz-kvm finding.

usage: tools/kvm_minimize.py FINDING_DIR [--exe build/std/kvm/pvfuzz-kvm]
                             [--tries 3] [--seconds S]

A real KVM does not replay bit for bit, so a candidate counts as "still
fails" when any of --tries runs reports the finding's oracle.  The shared
operations (`input`, include/pvfuzz/kvm_host_ops.h) are cut where
`pvfuzz-kvm --decode` says each one starts; the VMM extras (`extra`) are
16-byte records (kvm/host_ops.h).  Steps are removed in chunks (ddmin),
first from the input, then from the extras.  The result goes to
FINDING_DIR/input.min (and extra.min) and is printed with --decode.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

EXTRA_REC = 16
SUMMARY_RE = re.compile(r"SUMMARY: pvfuzz: ([a-z_]+) variant=([^ ]+)")
OP_RE = re.compile(r"^@(\d+)\+(\d+) ", re.M)


def run_kvm(a, args, timeout):
    return subprocess.run([a.exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)


def fails(a, ctx, shared, extras):
    with tempfile.TemporaryDirectory(prefix="kvm-min-") as d:
        inp, ext = os.path.join(d, "input"), os.path.join(d, "extra")
        with open(inp, "wb") as f:
            f.write(b"".join(shared))
        args = ["--input", inp, "--readers", ctx["readers"], "--vcpus", str(ctx["vcpus"]),
                "--duration", str(a.seconds), "--findings", d]
        if extras:
            with open(ext, "wb") as f:
                f.write(b"".join(extras))
            args += ["--extra", ext]
        for _ in range(a.tries):
            p = run_kvm(a, args, a.seconds * 4 + 60)
            if p.returncode == 77:
                sys.exit("pvfuzz-kvm skipped: " + p.stdout.decode().strip())
            m = SUMMARY_RE.search(p.stderr.decode("utf-8", "replace"))
            if p.returncode == 1 and m and m.group(1) == ctx["oracle"]:
                return True
    return False


def ddmin(items, still_fails):
    n = 2
    while len(items) >= 2:
        chunk = max(1, len(items) // n)
        for i in range(0, len(items), chunk):
            cand = items[:i] + items[i + chunk:]
            if still_fails(cand):
                items, n = cand, max(n - 1, 2)
                print("  %d left" % len(items), flush=True)
                break
        else:
            if chunk == 1:
                break
            n = min(n * 2, len(items))
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("finding")
    ap.add_argument("--exe", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                                                  "std", "kvm", "pvfuzz-kvm"))
    ap.add_argument("--tries", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3)
    a = ap.parse_args()
    with open(os.path.join(a.finding, "report.txt")) as f:
        report = f.read()
    m = SUMMARY_RE.search(report)
    if not m:
        sys.exit("no SUMMARY line in %s/report.txt" % a.finding)
    ctx = {"oracle": m.group(1), "readers": m.group(2).replace("+", ","),
           "vcpus": int(re.search(r"run: (\d+) vCPUs", report).group(1))}
    inp, ext = os.path.join(a.finding, "input"), os.path.join(a.finding, "extra")
    with open(inp, "rb") as f:
        data = f.read()
    # where each shared op starts: pvfuzz-kvm knows the encoding, this script does not
    p = run_kvm(a, ["--decode", inp, "--vcpus", str(ctx["vcpus"])], 60)
    shared = [data[int(o):int(o) + int(n)] for o, n in OP_RE.findall(p.stdout.decode())]
    extras = []
    if os.path.exists(ext):
        with open(ext, "rb") as f:
            e = f.read()
        extras = [e[i:i + EXTRA_REC] for i in range(0, len(e), EXTRA_REC)]
    print("%s with %s: %d operations, %d extras, %.1f s per try" % (
        ctx["oracle"], ctx["readers"], len(shared), len(extras), a.seconds), flush=True)
    if not fails(a, ctx, shared, extras):
        sys.exit("the input does not fail within %d tries: nothing to minimize" % a.tries)
    shared = ddmin(shared, lambda c: fails(a, ctx, c, extras))
    extras = ddmin(extras, lambda c: fails(a, ctx, shared, c))
    for name, items in (("input.min", shared), ("extra.min", extras)):
        out = os.path.join(a.finding, name)
        with open(out + ".tmp", "wb") as f:
            f.write(b"".join(items))
        os.replace(out + ".tmp", out)
    print("minimized to %d operations and %d extras:" % (len(shared), len(extras)))
    args = ["--decode", os.path.join(a.finding, "input.min"), "--vcpus", str(ctx["vcpus"])]
    if extras:
        args += ["--extra", os.path.join(a.finding, "extra.min")]
    subprocess.run([a.exe] + args)


if __name__ == "__main__":
    main()
