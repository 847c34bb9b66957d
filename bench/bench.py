#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pvfuzz bug-finding benchmark (python3 stdlib only).

For every buggy variant (registry: `pvfuzz-list --json`), N trials per engine
from an empty corpus, one process per trial (one core):

  libFuzzer  build/lf (ASan+UBSan): -seed=S -max_total_time=CAP -print_final_stats=1
  AFL++      build/afl: afl-fuzz -s S -V CAP with AFL_BENCH_UNTIL_CRASH=1, a 1-byte seed

and records executions and seconds to the first pvfuzz finding.  Trials
without a finding are right-censored at the cap: the median is over all
trials with censored ones counted as "> cap" (so a median that is censored
prints as "> cap"), the range likewise, and the restricted mean (RMST) is the
mean of min(t, cap).  It also measures exec/s of the mainline pairing per
target and build (lf, release, afl, std).  Results go to a markdown file
(docs/benchmarks.md) naming the machine.

This is a benchmark, not a test: run it on a quiet machine.
"""
import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=30).stdout.decode(errors="replace").strip()
    except Exception:
        return ""


def machine():
    model = ""
    for line in sh("lscpu").splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    return {
        "cpu": model or platform.processor() or "?",
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "clang": sh("clang --version | head -1"),
        "gcc": sh("gcc --version | head -1"),
        "afl": sh("afl-fuzz -h 2>&1 | grep -m1 -o 'afl-fuzz++[0-9a-z.]*'") or "?",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def env_for(variant, extra=None):
    e = dict(os.environ)
    e.pop("PVFUZZ_PRINT_HASH", None)
    if variant:
        e["PVFUZZ_VARIANT"] = variant
    else:
        e.pop("PVFUZZ_VARIANT", None)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    if extra:
        e.update(extra)
    return e


def registry(lister):
    out = subprocess.run([lister, "--json"], stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out)


def target_protocol(std, reg):
    with tempfile.NamedTemporaryFile() as f:
        for v in sorted(reg, key=lambda v: v["name"]):
            p = subprocess.run([std, "--check-determinism", "1", f.name], env=env_for(v["name"]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if p.returncode == 0:
                return v["protocol"]
            m = re.search(r"not ([A-Za-z0-9_]+)\s*$", p.stderr.decode(errors="replace").strip())
            if m:
                return m.group(1)
    return None


# ------------------------------------------------------------------ trials --

def lf_trial(exe, variant, seed, cap, work):
    d = tempfile.mkdtemp(dir=work)
    os.makedirs(os.path.join(d, "corpus"))
    t0 = time.monotonic()
    p = subprocess.run([exe, "-seed=%d" % seed, "-max_total_time=%d" % cap, "-print_final_stats=1",
                        "-timeout=30", "-artifact_prefix=%s/" % d, os.path.join(d, "corpus")],
                       env=env_for(variant), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=cap * 3 + 120)
    secs = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", err)
    execs = int(m.group(1)) if m else None
    sm = re.search(r"SUMMARY: pvfuzz: ([A-Za-z0-9_]+)", err)
    oracle = sm.group(1) if sm else None
    san = re.search(r"ERROR: AddressSanitizer: ([a-z-]+)", err)
    if p.returncode != 0 and not sm and san:
        # ASan saw the same instant first (a freed page-table page is
        # poisoned): the std replay of the crash names the pvfuzz oracle
        std = os.path.join(os.path.dirname(os.path.dirname(exe)), "std", os.path.basename(exe))
        crashes = [c for c in os.listdir(d) if c.startswith("crash-")]
        if crashes and os.access(std, os.X_OK):
            r = subprocess.run([std, os.path.join(d, crashes[0])], env=env_for(variant),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
            rm = re.search(r"SUMMARY: pvfuzz: ([A-Za-z0-9_]+)", r.stderr.decode(errors="replace"))
            if rm:
                oracle = "%s (asan:%s)" % (rm.group(1), san.group(1))
    shutil.rmtree(d, ignore_errors=True)
    found = p.returncode != 0 and oracle is not None
    return {"found": found, "execs": execs, "secs": secs, "oracle": oracle}


def afl_stats(path):
    st = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.partition(":")
                st[k.strip()] = v.strip()
    except OSError:
        pass
    return st


def afl_trial(exe, variant, seed, cap, work):
    d = tempfile.mkdtemp(dir=work)
    os.makedirs(os.path.join(d, "in"))
    with open(os.path.join(d, "in", "seed"), "wb") as f:
        f.write(b"\x00")
    extra = {"AFL_BENCH_UNTIL_CRASH": "1", "AFL_NO_UI": "1", "AFL_SKIP_CPUFREQ": "1",
             "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1", "AFL_TRY_AFFINITY": "1", "AFL_FORKSRV_INIT_TMOUT": "30000", "AFL_IGNORE_PROBLEMS": "1",
             "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:symbolize=0"}
    t0 = time.monotonic()
    p = subprocess.run(["afl-fuzz", "-i", os.path.join(d, "in"), "-o", os.path.join(d, "out"),
                        "-s", str(seed), "-V", str(cap), "-t", "5000", "--", exe],
                       env=env_for(variant, extra), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=cap * 3 + 120)
    secs = time.monotonic() - t0
    st = afl_stats(os.path.join(d, "out", "default", "fuzzer_stats"))
    crashes = int(st.get("saved_crashes", st.get("unique_crashes", "0")) or 0)
    execs = int(st["execs_done"]) if "execs_done" in st else None
    oracle = None
    cdir = os.path.join(d, "out", "default", "crashes")
    if crashes and os.path.isdir(cdir):
        for c in sorted(os.listdir(cdir)):
            if c.startswith("id:"):
                r = subprocess.run([exe, os.path.join(cdir, c)], env=env_for(variant),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
                m = re.search(r"SUMMARY: pvfuzz: ([A-Za-z0-9_]+)", r.stderr.decode(errors="replace"))
                oracle = m.group(1) if m else "?"
                break
    if not st and variant:
        # afl-fuzz refuses a seed that crashes in its dry run: the finding is
        # at the first execution (libFuzzer reports those as execs = 1 too)
        # libAFLDriver's dry run also feeds the target its own short dummy
        # input first; an empty file stands for it when the seed is clean
        empty = os.path.join(d, "empty")
        open(empty, "wb").close()
        for probe in (os.path.join(d, "in", "seed"), empty):
            r = subprocess.run([exe, probe], env=env_for(variant),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
            m = re.search(r"SUMMARY: pvfuzz: ([A-Za-z0-9_]+)", r.stderr.decode(errors="replace"))
            if r.returncode != 0 and m:
                break
        dry = "crashed with one of the test cases" in p.stdout.decode(errors="replace")
        if dry and not (r.returncode != 0 and m):
            # the driver's own first executions tripped it before the seed ran
            shutil.rmtree(d, ignore_errors=True)
            return {"found": True, "execs": 1, "secs": secs, "oracle": "dry-run", "eps": None,
                    "note": "afl-fuzz's dry run crashed before fuzzing started"}
        if r.returncode != 0 and m:
            shutil.rmtree(d, ignore_errors=True)
            return {"found": True, "execs": 1, "secs": secs, "oracle": m.group(1), "eps": None,
                    "note": "seed crashed in afl-fuzz's dry run"}
    if not st:
        sys.stderr.write("afl-fuzz produced no stats (exit %d): %s\n" % (
            p.returncode, p.stdout.decode(errors="replace")[-500:]))
    shutil.rmtree(d, ignore_errors=True)
    eps = float(st["execs_per_sec"]) if "execs_per_sec" in st else None
    return {"found": crashes > 0, "execs": execs, "secs": secs, "oracle": oracle, "eps": eps}


# -------------------------------------------------------------- exec speed --

def speed_lf(exe, secs):
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([exe, "-seed=1", "-max_total_time=%d" % secs, "-print_final_stats=1", d],
                           env=env_for(None), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=secs * 3 + 60)
    m = re.search(r"stat::average_exec_per_sec:\s*(\d+)", p.stderr.decode(errors="replace"))
    return int(m.group(1)) if m else None


def speed_afl(exe, secs):
    r = afl_trial(exe, None, 1, secs, tempfile.gettempdir())
    return int(r["eps"]) if r.get("eps") else None


def speed_std(exe, secs):
    """Replays a fixed set of 2000 random inputs (mainline), inputs per second."""
    rnd = random.Random(1)
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i in range(2000):
            fp = os.path.join(d, "i%d" % i)
            with open(fp, "wb") as f:
                f.write(bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(300))))
            files.append(fp)
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < secs:
            for i in range(0, len(files), 500):
                subprocess.run([exe, "--check-determinism", "1"] + files[i:i + 500], env=env_for(None),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            n += len(files)
        return int(n / (time.monotonic() - t0))


# ------------------------------------------------------------------ report --

def summarize(trials, key, cap_value):
    """median / range over all trials, censored (not found) = '> cap'."""
    vals = sorted((t[key] if t["found"] and t[key] is not None else float("inf")) for t in trials)
    n = len(vals)
    if not n:
        return "-", "-", "-"

    def fmt(x):
        if x == float("inf"):
            return "> %s" % cap_value
        return ("%.1f" % x) if key == "secs" else "{:,}".format(int(x))

    if n % 2:
        med = vals[n // 2]
    else:
        a, b = vals[n // 2 - 1], vals[n // 2]
        med = float("inf") if b == float("inf") else (a + b) / 2
    rng = "%s - %s" % (fmt(vals[0]), fmt(vals[-1]))
    return fmt(med), rng, None


def rmst(trials, cap):
    xs = [min(t["secs"], cap) if t["found"] else cap for t in trials]
    return sum(xs) / len(xs) if xs else 0


def kept_sections(path):
    """Sections other tools own (bench/mutate.py's mutation score), between
    "<!-- keep:NAME -->" and "<!-- /keep:NAME -->": carried over verbatim."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return []
    return [m.group(0) + "\n" for m in re.finditer(
        r"^<!-- keep:([a-z-]+) -->\n.*?^<!-- /keep:\1 -->$", old, re.M | re.S)]


def write_report(path, mach, args, results, speeds, expects):
    L = []
    L.append("# pvfuzz benchmarks\n")
    L.append("Generated by `bench/run.sh` (`bench/bench.py`) on %s. **%s.**\n" % (
        mach["date"], "Validation run (small caps, few seeds): not a result" if args.validation
        else "Full run"))
    L.append("## Machine\n")
    L.append("| | |\n|---|---|")
    for k in ("cpu", "cores", "kernel", "clang", "gcc", "afl"):
        L.append("| %s | %s |" % (k, mach[k]))
    L.append("")
    L.append("## Method\n")
    L.append("- Every buggy variant of the registry (`pvfuzz-list --json`), paired by `PVFUZZ_VARIANT` "
             "with its partner or the mainline.")
    L.append("- %d trials per variant and engine (seeds %s), each on one core from an **empty "
             "corpus**, no dictionary, cap **%d s**; trials run %d at a time." % (
                 len(args.seeds), ",".join(map(str, args.seeds)), args.cap, args.jobs))
    L.append("- libFuzzer: `build/lf` (clang -O1, ASan+UBSan), `-seed=S -max_total_time=CAP "
             "-print_final_stats=1`; executions = `stat::number_of_executed_units`.")
    L.append("- AFL++: `build/afl` (afl-clang-fast, libAFLDriver), `afl-fuzz -s S -V CAP` with "
             "`AFL_BENCH_UNTIL_CRASH=1` and a 1-byte seed; executions = `execs_done`.")
    L.append("- Seconds are wall-clock per trial process (start-up included). A trial without a "
             "finding is **right-censored** at the cap: medians and ranges count it as `> cap`; "
             "RMST = mean of min(t, cap) (restricted mean survival time). `found` = k/N trials "
             "with a pvfuzz oracle; `oracles` lists what fired (registry `expect` in brackets).")
    L.append("- AFL++ refuses a seed that crashes in its dry run; when the 1-byte seed itself trips "
             "the oracle, the trial counts as found at execution 1.\n")
    L.append("## Time to detection\n")
    L.append("| target | variant | engine | found | execs median | execs range | s median | s range "
             "| RMST s | oracles [expect] |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for (t, v, eng), trials in results:
        k = sum(1 for x in trials if x["found"])
        em, er, _ = summarize(trials, "execs", "cap")
        sm, sr, _ = summarize(trials, "secs", "%d" % args.cap)
        orc = {}
        for x in trials:
            if x["found"]:
                orc[x["oracle"]] = orc.get(x["oracle"], 0) + 1
        os_ = ", ".join("%s %d" % kv for kv in sorted(orc.items())) or "-"
        L.append("| %s | %s | %s | %d/%d | %s | %s | %s | %s | %.1f | %s [%s] |" % (
            t, v, eng, k, len(trials), em, er, sm, sr, rmst(trials, args.cap), os_,
            expects[v].replace("|", "\\|")))
    L.append("")
    L.append("## Executions per second (mainline pairing)\n")
    L.append("| target | build | exec/s |")
    L.append("|---|---|---|")
    for (t, b), s in speeds:
        L.append("| %s | %s | %s |" % (t, b, "{:,}".format(s) if s else "n/a (build absent)"))
    L.append("")
    L.append("Builds: `lf` = libFuzzer clang -O1 ASan+UBSan; `release` = libFuzzer without "
             "sanitizers (`build/release`, if present); `afl` = afl-fuzz on `build/afl`; `std` = "
             "the gcc standalone replayer over 2000 random inputs (inputs/s, process start-up "
             "amortized over 500 files).\n")
    L.append("Raw per-trial data: `%s`.\n" % os.path.relpath(args.json, ROOT))
    L += kept_sections(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description="pvfuzz bug-finding benchmark")
    ap.add_argument("--targets", default="", help="comma list (default: every target in build/std)")
    ap.add_argument("--variants", default="", help="comma list (default: every buggy variant)")
    ap.add_argument("--seeds", default="1,2,3,4,5", type=lambda s: [int(x) for x in s.split(",")])
    ap.add_argument("--cap", type=int, default=600, help="seconds per trial")
    ap.add_argument("--engines", default="lf,afl")
    ap.add_argument("--jobs", type=int, default=1, help="trials at a time (1 = one core)")
    ap.add_argument("--speed-secs", type=int, default=10, help="0 skips exec/s")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--json", default="")
    ap.add_argument("--validation", action="store_true", help="mark the report as a validation run")
    a = ap.parse_args()
    a.json = a.json or os.path.splitext(a.out)[0] + ".json"
    std_dir = os.path.join(a.build, "std")
    lister = os.environ.get("PVFUZZ_LIST") or ""
    if not lister:
        for dp, _, fs in os.walk(std_dir):
            if "pvfuzz-list" in fs:
                lister = os.path.join(dp, "pvfuzz-list")
                break
    if not lister or not os.access(lister, os.X_OK):
        sys.exit("bench: pvfuzz-list not found in %s (build build/std, or set PVFUZZ_LIST)" % std_dir)
    reg = registry(lister)
    engines = [e for e in a.engines.split(",") if e]
    for e in engines:
        if e not in ("lf", "afl"):
            sys.exit("bench: unknown engine '%s' (lf, afl)" % e)
    if a.targets:
        targets = a.targets.split(",")
    else:
        targets = sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(ROOT, "targets"))
                         if f.endswith(".c") and f != "standalone_main.c")
    jobs = []
    expects = {}
    for t in targets:
        std = os.path.join(std_dir, t)
        if not os.access(std, os.X_OK):
            sys.exit("bench: no %s (build build/std)" % std)
        proto = target_protocol(std, reg)
        for v in reg:
            if v["protocol"] != proto or v["expect"] == "safe":
                continue
            if a.variants and v["name"] not in a.variants.split(","):
                continue
            expects[v["name"]] = v["expect"]
            for eng in engines:
                exe = os.path.join(a.build, eng, t)
                if not os.access(exe, os.X_OK):
                    print("bench: %s missing, %s skipped" % (exe, eng), file=sys.stderr)
                    continue
                jobs.append((t, v["name"], eng, exe))
    if not jobs:
        sys.exit("bench: nothing to run")
    work = tempfile.mkdtemp(prefix="pvfuzz-bench-")
    results = []
    raw = []
    import concurrent.futures as cf
    try:
        with cf.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
            for (t, v, eng, exe) in jobs:
                fn = lf_trial if eng == "lf" else afl_trial
                futs = [pool.submit(fn, exe, v, s, a.cap, work) for s in a.seeds]
                trials = [f.result() for f in futs]
                for s, r in zip(a.seeds, trials):
                    raw.append(dict(r, target=t, variant=v, engine=eng, seed=s, cap=a.cap))
                k = sum(1 for x in trials if x["found"])
                print("%s %s %s: %d/%d found, execs %s" % (t, v, eng, k, len(trials),
                      [x["execs"] if x["found"] else None for x in trials]), flush=True)
                results.append(((t, v, eng), trials))
        speeds = []
        for t in targets if a.speed_secs > 0 else []:
            for b, fn, exe in (("lf", speed_lf, os.path.join(a.build, "lf", t)),
                               ("release", speed_lf, os.path.join(a.build, "release", t)),
                               ("afl", speed_afl, os.path.join(a.build, "afl", t)),
                               ("std", speed_std, os.path.join(a.build, "std", t))):
                s = fn(exe, a.speed_secs) if os.access(exe, os.X_OK) else None
                print("%s %s: %s exec/s" % (t, b, s), flush=True)
                speeds.append(((t, b), s))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mach = machine()
    with open(a.json, "w") as f:
        json.dump({"machine": mach, "cap": a.cap, "seeds": a.seeds, "trials": raw,
                   "speeds": [{"target": t, "build": b, "exec_per_sec": s} for (t, b), s in speeds]},
                  f, indent=1)
    write_report(a.out, mach, a, results, speeds, expects)
    print("wrote %s and %s" % (a.out, a.json))


if __name__ == "__main__":
    main()
