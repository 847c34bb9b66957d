#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Registry queries for the ./pvfuzz launcher.

Reads `pvfuzz-list --json` on stdin and answers one question per call, as
tab-separated lines on stdout.  Errors are one line on stderr, exit 3.

  runs PROTOCOL          every buggy variant, then the mainline pairing:
                         spec <TAB> label <TAB> expect
  select PROTOCOL SPEC   label <TAB> expect for PVFUZZ_VARIANT=SPEC
                         ("mainline" or "" = the protocol's defaults)
  byfile PATH            name <TAB> protocol <TAB> role of what PATH registers
  protocol NAME          the protocol of variant NAME

The selection mirrors pv_select() in src/registry.c: named variants take
their roles, each one's partner fills its counterpart role, the remaining
roles get the protocol's mainline.  The expected outcome of a selection is
the union of the non-"safe" expectations of every selected variant.
"""
import json
import os
import sys

ROLES = ["reader", "writer", "flush", "free", "walker"]


def err(msg):
    print(msg, file=sys.stderr)
    sys.exit(3)


def select(reg, proto, spec):
    by_name = {v["name"]: v for v in reg}
    sel, named = {}, set()
    names = [] if spec in ("", "mainline") else spec.split(",")
    for n in names:
        v = by_name.get(n)
        if v is None:
            err(f"unknown variant '{n}' (see: ./pvfuzz list)")
        if v["protocol"] != proto:
            err(f"variant '{n}' belongs to {v['protocol']}, not {proto}")
        if v["role"] in named:
            err(f"two {v['role']} variants named ('{sel[v['role']]['name']}' and '{n}')")
        sel[v["role"]] = v
        named.add(v["role"])
    for role in list(sel):
        pa = by_name.get(sel[role].get("partner") or "")
        if pa and pa["role"] not in named:
            sel[pa["role"]] = pa
    for v in reg:
        if v["protocol"] == proto and v["mainline"] and v["role"] not in sel:
            sel[v["role"]] = v
    chosen = [sel[r] for r in ROLES if r in sel]
    label = "+".join(v["name"] for v in chosen) or "(none)"
    alts = []
    for v in chosen:
        for a in (v.get("expect") or "safe").split("|"):
            if a != "safe" and a not in alts:
                alts.append(a)
    return label, "|".join(alts) or "safe"


def main():
    if len(sys.argv) < 2:
        err("usage: pvfuzz_registry.py runs|select|byfile|protocol ARGS < registry.json")
    try:
        reg = json.load(sys.stdin)
    except ValueError as e:
        err(f"cannot parse the registry from pvfuzz-list --json: {e}")
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "runs" and len(args) == 1:
        proto = args[0]
        for v in reg:
            if v["protocol"] == proto and (v.get("expect") or "safe") != "safe":
                label, expect = select(reg, proto, v["name"])
                print(f"{v['name']}\t{label}\t{expect}")
        label, expect = select(reg, proto, "mainline")
        print(f"mainline\t{label}\t{expect}")
    elif cmd == "select" and len(args) == 2:
        label, expect = select(reg, args[0], args[1])
        print(f"{label}\t{expect}")
    elif cmd == "byfile" and len(args) == 1:
        want = os.path.realpath(args[0])
        for v in reg:
            if v.get("file") and os.path.realpath(v["file"]) == want:
                print(f"{v['name']}\t{v['protocol']}\t{v['role']}")
    elif cmd == "protocol" and len(args) == 1:
        for v in reg:
            if v["name"] == args[0]:
                print(v["protocol"])
                return
        err(f"unknown variant '{args[0]}' (see: ./pvfuzz list)")
    else:
        err(f"pvfuzz_registry.py: bad command {sys.argv[1:]}")


if __name__ == "__main__":
    main()
