#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tests of the trace report, site capture and ./pvfuzz triage (python3 stdlib).

  site-lines      no invocation of a site-capturing macro spans lines (gcc and
                  clang disagree on __LINE__ there, so traces would differ)
  replayer-trace  every committed reproducer: --trace prints a header, the
                  violating access is in the printed report, its site is the
                  caller's line (no header, no simulator file), --trace-json
                  holds it, --check-determinism prints its success line
  triage          tools/triage.py on a findings/-shaped tree of committed
                  reproducers: the expected buckets, minimized inputs that
                  still fire the same oracle at the same site, well-formed
                  HTML and SVG that rsvg-convert renders, findings untouched

Exit codes: 0 pass, 1 fail (reason on stderr), 77 skipped (reason printed).
"""
import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pvtest import REPLAY_RE, SKIP, Fail, Skip, check, log, run  # noqa: E402  the suite's helpers

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
VIOL_RE = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+:\d+|-)\s+(\S+)\s+(.*?)\s+(0x[0-9a-f]+)\s+<== violation$")
HEADER_RE = re.compile(r"^\s*step\s+vcpu/fiber\s+site\s+op\s+field\s+value\s*$")


def regress_inputs(std_dir, targets):
    """[(target, variant, path)] of the committed reproducers whose target is built."""
    out = []
    for t in targets:
        if not os.path.isfile(os.path.join(std_dir, t)):
            continue
        for vp in sorted(glob.glob(os.path.join(SRC, "corpora", "regress", t, "*"))):
            files = [vp] if os.path.isfile(vp) else sorted(glob.glob(os.path.join(vp, "*")))
            out += [(t, os.path.basename(vp), f) for f in files]
    if not out:
        raise Skip("no standalone replayer built in %s for %s" % (std_dir, targets))
    return out


# -------------------------------------------------------------- site-lines --

def site_macros():
    """Every macro in include/pvfuzz/*.h that builds a struct pv_site, directly or not."""
    defs = {}
    for h in glob.glob(os.path.join(SRC, "include", "pvfuzz", "*.h")):
        with open(h) as f:
            txt = f.read().replace("\\\n", " ")
        for m in re.finditer(r"^\s*#\s*define\s+(\w+)(\(.*)$", txt, re.M):
            defs[m.group(1)] = defs.get(m.group(1), "") + " " + m.group(2)
    site = {"PV_SITE"}
    grown = True
    while grown:
        grown = False
        for n, body in defs.items():
            if n not in site and any(re.search(r"\b%s\b" % s, body) for s in site):
                site.add(n)
                grown = True
    return site


def strip_comments(t):
    # keep newlines so line numbers hold; strings are kept (they hold no parentheses we count)
    t = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), t, flags=re.S)
    return re.sub(r"//[^\n]*", "", t)


def cmd_site_lines(a):
    macros = site_macros()
    check({"READ_ONCE", "WRITE_ONCE", "pv_vm_exit", "read_seqcount_begin",
           "pvclock_read_begin"} <= macros, "site macros not found in include/pvfuzz: %s" % sorted(macros))
    pat = re.compile(r"(?<![\w#])(%s)\s*\(" % "|".join(sorted(macros, key=len, reverse=True)))
    files = []
    for g in ("src/*/*.c", "src/*/*.h", "include/pvfuzz/*.h", "examples/*.c", "targets/*.c"):
        files += glob.glob(os.path.join(SRC, g))
    bad = []
    for fn in sorted(files):
        with open(fn) as f:
            t = strip_comments(f.read())
        for m in pat.finditer(t):
            line_start = t.rfind("\n", 0, m.start()) + 1
            if re.match(r"\s*#\s*define", t[line_start:m.start()]):
                continue  # the definitions themselves
            i, depth = m.end(), 1
            while depth and i < len(t):
                depth += {"(": 1, ")": -1}.get(t[i], 0)
                i += 1
            if "\n" in t[m.start():i]:
                bad.append("%s:%d: %s(...) spans lines" % (os.path.relpath(fn, SRC),
                                                           t.count("\n", 0, m.start()) + 1, m.group(1)))
    check(not bad, "site macros must be invoked on one line (compat.h):\n" + "\n".join(bad))
    log("%d site macros, %d files: every invocation on one line" % (len(macros), len(files)))


# ---------------------------------------------------------- replayer-trace --

HEADERS_AND_SIM = re.compile(r"(\.h|^access\.c|^ipi\.c|^sched\.c|^trace\.c)$")


def cmd_replayer_trace(a):
    items = regress_inputs(a.std_dir, a.targets)
    tmp = tempfile.mkdtemp(prefix="pvfuzz-trace-")
    try:
        for t, v, path in items:
            exe = os.path.join(a.std_dir, t)
            env = {"PVFUZZ_VARIANT": v}
            js = os.path.join(tmp, "t.json")
            rc, out, err = run([exe, "--trace", "--trace-json", js, path], env=env)
            check(rc == 0, "%s: replayer exit %d: %s" % (path, rc, err.strip()[-300:]))
            lines = out.splitlines()
            check(lines and HEADER_RE.match(lines[0]), "%s: --trace does not start with the column "
                  "header: %r" % (path, lines[:1]))
            m = REPLAY_RE.match(lines[-1])
            check(m, "%s: no outcome line" % path)
            oracle = m.group(3)
            check(oracle != "none", "%s: a committed reproducer replays without a finding" % path)
            dump = err[err.index("last trace steps:"):] if "last trace steps:" in err else ""
            if len([l for l in dump.splitlines()[2:] if re.match(r"^\s*\d+\s", l)]) == 0:
                # the oracle fired before the first traced step (a set-up check): no access to name
                check("violating access" not in err, "%s: a violating access without a trace" % path)
                continue
            summ = re.search(r"^SUMMARY: pvfuzz: (\S+) .*\n==pvfuzz== violating access:\n(.*)$", err, re.M)
            check(summ and summ.group(1) == oracle, "%s: no violating-access line after SUMMARY" % path)
            vm = VIOL_RE.match(summ.group(2))
            check(vm, "%s: violating access line unreadable: %r" % (path, summ.group(2)))
            step, site = int(vm.group(1)), vm.group(3)
            check(not HEADERS_AND_SIM.search(site.split(":")[0]), "%s: the violating access is attributed "
                  "to %s, not the caller's line" % (path, site))
            check(any(VIOL_RE.match(l) and int(VIOL_RE.match(l).group(1)) == step
                      for l in dump.splitlines()), "%s: the printed trace lacks the violating access "
                  "(step %d)" % (path, step))
            # live, the access is printed as it happens (marked only if it was
            # appended by the reporter)
            live = [l.split() for l in lines[1:-1]]
            check(any(len(w) > 2 and w[0] == str(step) and w[2] == site for w in live),
                  "%s: the live --trace lacks the violating access (step %d at %s)" % (path, step, site))
            with open(js) as f:
                d = json.load(f)
            fv = d["finding"]["violation"]
            check(d["outcome"] == oracle and fv and fv["step"] == step and
                  ("%s:%d" % (fv["site"]["file"], fv["site"]["line"]) if fv["site"] else "-") == site,
                  "%s: --trace-json disagrees with the report: %s" % (path, fv))
            check(any(r["seq"] == d["violation_seq"] and r.get("violation") for r in d["records"]),
                  "%s: --trace-json records lack the violation" % path)
            # every site the run traced names a caller, never the simulator or a header
            inner = sorted({r["site"]["file"] for r in d["records"] if r.get("site") and
                            HEADERS_AND_SIM.search(r["site"]["file"])})
            check(not inner, "%s: trace sites inside %s" % (path, inner))
            rc, out, err = run([exe, "--check-determinism", "3", path], env=env)
            ok = [l for l in out.splitlines() if "deterministic: 3 replays" in l]
            check(rc == 0 and len(ok) == 1, "%s: --check-determinism 3 printed %r" % (path, out))
        log("%d reproducers: header, violating access in report and trace at the caller's line, JSON, "
            "determinism line" % len(items))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ triage --

def replay_plain(exe, sel, path):
    """(oracle, site file:line, variant label) of one input, read from the
    replayer's text output."""
    env = {} if sel == "mainline" else {"PVFUZZ_VARIANT": sel}
    rc, out, err = run([exe, "--check-determinism", "1", path], env=env)
    m = REPLAY_RE.match(out.strip().splitlines()[-1]) if out.strip() else None
    check(m, "%s: no outcome line (exit %d): %s" % (path, rc, err.strip()[-300:]))
    if m.group(3) == "none":
        return "none", None, None
    vm = re.search(r"==pvfuzz== violating access:\n(.*)$", err, re.M)
    vm = VIOL_RE.match(vm.group(1)) if vm else None
    label = re.search(r"^SUMMARY: pvfuzz: \S+ variant=(\S+)", err, re.M).group(1)
    # a record without a site (an arithmetic target's result) is named by its field
    # no violating access at all (an oracle before the first traced step): "-"
    return (m.group(3), (vm.group(3) if vm.group(3) != "-" else vm.group(5)) if vm else "-", label)


def tree_digest(d):
    h = hashlib.sha1()
    for root, dirs, files in os.walk(d):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(p.encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


def cmd_triage(a):
    items = regress_inputs(a.std_dir, a.targets)
    by_t = {}
    for t, v, p in items:
        by_t.setdefault(t, []).append((v, p))
    tmp = tempfile.mkdtemp(prefix="pvfuzz-triage-test-")
    try:
        fd = os.path.join(tmp, "findings")
        chosen = []
        for t in sorted(by_t):
            for v, p in by_t[t][:3]:  # a few buggy pairings of every target
                chosen.append((t, v, p))
        check(len(chosen) >= 4, "too few reproducers to triage: %d" % len(chosen))
        placed = []  # (target, selection, path)
        for i, (t, v, p) in enumerate(chosen):
            d = os.path.join(fd, t, v)
            os.makedirs(d, exist_ok=True)
            q = os.path.join(d, "crash-%02d" % i)
            shutil.copy(p, q)
            placed.append((t, v, q))
        # a second, different input for one bucket: the first one-byte change
        # of a reproducer that keeps its oracle and violating access
        t0, v0, p0 = chosen[0]
        exe0 = os.path.join(a.std_dir, t0)
        want0 = replay_plain(exe0, v0, p0)
        with open(p0, "rb") as f:
            data = f.read()
        twin = None
        for i in range(len(data)):
            for b in (0, 0xff, data[i] ^ 1):
                if b == data[i]:
                    continue
                cand = data[:i] + bytes([b]) + data[i + 1:]
                q = os.path.join(tmp, "cand")
                with open(q, "wb") as f:
                    f.write(cand)
                if replay_plain(exe0, v0, q) == want0:
                    twin = cand
                    break
            if twin:
                break
        check(twin is not None, "%s: no one-byte change keeps the bucket; pick another reproducer" % p0)
        q = os.path.join(fd, t0, v0, "crash-twin")
        with open(q, "wb") as f:
            f.write(twin)
        placed.append((t0, v0, q))
        # a mainline seed: no finding
        seeds = sorted(glob.glob(os.path.join(SRC, "corpora", t0, "seeds", "*")))
        if seeds:
            d = os.path.join(fd, t0, "mainline")
            os.makedirs(d)
            shutil.copy(seeds[0], os.path.join(d, "crash-seed"))
        # a log beside a crash is not an input
        with open(os.path.join(fd, t0, v0, "crash-00.log"), "w") as f:
            f.write("SUMMARY: not an input\n")

        # the buckets the replayer itself implies
        expect = {}
        for t, v, p in placed:
            o, site, label = replay_plain(os.path.join(a.std_dir, t), v, p)
            check(o != "none" and site, "%s: replays without a finding" % p)
            expect.setdefault((t, o, site, label), []).append(p)
        check(len(expect[(t0,) + want0]) >= 2, "the twin did not share its bucket")

        before = tree_digest(fd)
        out = os.path.join(tmp, "triage")
        cmd = [sys.executable, os.path.join(SRC, "tools", "triage.py"), fd, "--out", out,
               "--build-dir", a.std_dir, "--json"]
        rc, so, se = run(cmd, timeout=600)
        check(rc == 0, "triage exit %d: %s" % (rc, se.strip()[-800:]))
        res = json.loads(so)
        check(tree_digest(fd) == before, "triage changed the findings tree")
        got = {}
        for b in res["buckets"]:
            v = b["violation"]
            s = v["site"] if v else None
            got[(b["target"], b["oracle"], "%s:%d" % (s["file"], s["line"]) if s else
                 v["expr"] if v else "-", b["variant"])] = b
        check(set(got) == set(expect), "buckets: triage %s, replayer %s" % (sorted(got), sorted(expect)))
        for k, b in got.items():
            check(b["count"] == len(expect[k]), "bucket %s: %d findings, expected %d" % (
                b["bucket"], b["count"], len(expect[k])))
            check(b["minimized_size"] <= b["smallest_size"], "%s grew when minimized" % b["bucket"])
            # the minimized input fires the same oracle at the same site, through the
            # same replay the report tells the user to run
            exe = os.path.join(a.std_dir, b["target"])
            env = {} if b["selection"] == "mainline" else {"PVFUZZ_VARIANT": b["selection"]}
            rc, o2, e2 = run([exe, "--expect", b["oracle"], b["repro"]], env=env)
            check(rc == 0, "%s: minimized input: %s" % (b["bucket"], e2.strip()[-300:]))
            check(replay_plain(exe, b["selection"], b["repro"]) == k[1:],
                  "%s: minimized input left the bucket" % b["bucket"])
        check(len(res["no_finding"]) == (1 if seeds else 0) and not res["errors"],
              "no_finding %s errors %s" % (res["no_finding"], res["errors"]))
        # the report: well-formed XML, one page and one SVG per bucket, rendered
        pages = [os.path.join(out, "index.html")] + [os.path.join(out, b["bucket"], "index.html")
                                                     for b in res["buckets"]]
        for p in pages:
            try:
                ET.parse(p)
            except ET.ParseError as ex:
                raise Fail("%s is not well-formed: %s" % (p, ex))
        idx = open(pages[0]).read()
        for b in res["buckets"]:
            check("%s/index.html" % b["bucket"] in idx, "index.html lacks %s" % b["bucket"])
        svgs = [os.path.join(out, b["bucket"], "timeline.svg") for b in res["buckets"]]
        for s in svgs:
            root = ET.parse(s).getroot()
            check(root.tag == "{http://www.w3.org/2000/svg}svg", "%s: root is %s" % (s, root.tag))
            txt = open(s).read()
            check(("VIOLATION" in txt and 'stroke="#d00000"' in txt) or "no access traced" in txt,
                  "%s: no violating access drawn" % s)
        rsvg = shutil.which("rsvg-convert")
        if rsvg:
            for s in svgs:
                png = s[:-4] + ".png"
                rc, _, e = run([rsvg, "-o", png, s])
                check(rc == 0 and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n",
                      "rsvg-convert %s: %s" % (s, e.strip()))
            log("rendered %d SVG timelines with rsvg-convert" % len(svgs))
        else:
            log("SKIPPED rendering: rsvg-convert missing (Debian librsvg2-bin; ./pvfuzz installs it)")
        # the same findings give the same report
        out2 = os.path.join(tmp, "triage2")
        rc, so2, se2 = run(cmd[:4] + [out2] + cmd[5:], timeout=600)
        res2 = json.loads(so2)
        check([(b["bucket"], b["minimized_size"], b["trace_hash"]) for b in res["buckets"]] ==
              [(b["bucket"], b["minimized_size"], b["trace_hash"]) for b in res2["buckets"]],
              "a second triage of the same findings differs")
        # bad input: one line, exit 2
        rc, _, se = run([sys.executable, os.path.join(SRC, "tools", "triage.py"),
                         os.path.join(tmp, "nope")])
        check(rc == 2 and len(se.strip().splitlines()) == 1, "missing path: exit %d, %r" % (rc, se))
        log("%d findings -> %d buckets as the replayer implies (twin shared one); minimized inputs "
            "fire the same oracle at the same site; %d pages and %d SVGs well-formed; findings "
            "untouched; deterministic" % (len(placed), len(got), len(pages), len(svgs)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=["site-lines", "replayer-trace", "triage"])
    ap.add_argument("--std-dir", default=os.path.join(SRC, "build", "std"))
    ap.add_argument("--targets", default="", help="';'-separated target names")
    a = ap.parse_args()
    a.targets = [t for t in a.targets.split(";") if t] or sorted(
        os.path.basename(f)[:-2] for f in glob.glob(os.path.join(SRC, "targets", "*.c"))
        if not f.endswith("standalone_main.c"))
    try:
        {"site-lines": cmd_site_lines, "replayer-trace": cmd_replayer_trace,
         "triage": cmd_triage}[a.case](a)
    except Skip as ex:
        print("SKIPPED: %s" % ex, flush=True)
        return SKIP
    except Fail as ex:
        print("FAIL: %s" % ex, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
