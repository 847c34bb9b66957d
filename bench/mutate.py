#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pvfuzz mutation check of mainline code (python3 stdlib only).

    bench/mutate.py [--area clock|mm|all] [--only ID[,ID...]] [--jobs N]
                    [--fuzz-runs N] [--clean-runs N] [--stages LIST]
                    [--json OUT] [--workdir DIR] [--no-baseline] [--list]

Applies one mutant of bench/mutants/<area>.json at a time to a private copy
of the tree (under $TMPDIR, never the checkout itself), rebuilds it
incrementally (one file's recompile per mutant, with the project's own
CMake presets), and asks whether anything notices.  The checks run cheapest
first and stop at the first kill:

  replay   ctest: unit tests, seeds.<t> and regress.mainline.<t>.* (seeds
           and every reproducer with its buggy roles replaced by mainline
           fire nothing)
  regress  ctest: regress.std.<t>.* (every committed reproducer still fires
           its expected oracle)
  decoder  ctest: decoder.<t>
  fuzz     a bounded libFuzzer run of each target with the mainline pairing,
           from corpora/<t>/seeds with the target's dictionary
  clean    ctest: clean.<t>.* (every safe pairing, --clean-runs runs)
  scratch  ctest: scratch.<t>.* (every buggy variant still found from scratch)

A mutant is killed when one of them fails; the report names the stage, the
test and its first FAIL line (the oracle), and whether an oracle fired
("fired") or a reproducer / from-scratch run stopped finding its bug
("lost": after such a kill the stages that can fire still run).  A mutant its author marks
"equivalent" (with the reason) runs too - it must survive, else the claim or
an oracle is wrong - and is left out of the score's denominator.  A mutant
whose anchor no longer occurs exactly once in its file is reported "stale"
with its id, never skipped silently.  Before the mutants the unmutated tree
runs the same stages (the baseline); a red baseline is a tool failure.

This is a benchmark, not a test: it exits 0 whatever the score, 1 when the
tool itself fails (a red baseline, a build of the unmutated tree), 2 on a
usage error or a malformed catalogue.
"""
import argparse
import hashlib
import json
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CATALOGUE_DIR = os.path.join(ROOT, "bench", "mutants")
STAGES = ("replay", "regress", "decoder", "fuzz", "clean", "scratch")
# A kill is "fired" when an oracle (or a unit test) fired where none must, and
# "lost" when a reproducer or a from-scratch run stopped finding its bug.  A
# lost kill can be a schedule artefact (the mutant adds or removes a
# scheduling point, so a recorded interleaving no longer happens), so after
# one the stages that can fire still run, and the report shows both.
LOST_RE = re.compile(r"outcome none|no finding within|found by \d+ of seeds")
LF_STAGES = ("fuzz", "clean", "scratch")  # need the libFuzzer build
CATEGORIES = (
    "barrier", "version mask", "retry condition", "ordering", "freeze/invalidate step", "bound",
    "re-check", "speculative grab", "grace period", "flush mask", "flag marking",
    "generation check", "fence", "arithmetic", "state machine", "lazy tlb", "sequence", "flag check",
    "clamp", "error path", "preemption", "invalidate",
)
MUTANT_KEYS = {"id", "file", "in", "anchor", "replace", "category", "breaks", "equivalent", "targets"}
SUMMARY_RE = re.compile(r"SUMMARY: pvfuzz: ([A-Za-z0-9_]+)")
SAN_RE = re.compile(r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer): [A-Za-z0-9_-]+")


class UsageError(Exception):
    pass


class ToolError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------- catalogue --

def load_catalogue(area, cdir=CATALOGUE_DIR):
    path = os.path.join(cdir, area + ".json")
    try:
        with open(path) as f:
            cat = json.load(f)
    except OSError as ex:
        raise UsageError("cannot read the %s catalogue %s: %s" % (area, path, ex.strerror))
    except ValueError as ex:
        raise UsageError("%s: invalid JSON: %s" % (path, ex))
    if not isinstance(cat, dict) or not isinstance(cat.get("mutants"), list) or \
            not isinstance(cat.get("targets"), list) or not cat["targets"]:
        raise UsageError("%s: want an object with \"targets\" and \"mutants\" lists" % path)
    seen = set()
    for i, m in enumerate(cat["mutants"]):
        where = "%s: mutant %d" % (os.path.relpath(path, ROOT), i)
        if not isinstance(m, dict):
            raise UsageError("%s: not an object" % where)
        for k in ("id", "file", "anchor", "replace", "category", "breaks"):
            if not isinstance(m.get(k), str) or (k != "replace" and not m[k].strip()):
                raise UsageError("%s: %r must be a non-empty string" % (where, k))
        extra = set(m) - MUTANT_KEYS
        if extra:
            raise UsageError("%s (%s): unknown keys %s" % (where, m["id"], sorted(extra)))
        if m["id"] in seen:
            raise UsageError("%s: duplicate id %s" % (where, m["id"]))
        seen.add(m["id"])
        if m["category"] not in CATEGORIES:
            raise UsageError("%s (%s): category %r is none of %s" % (
                where, m["id"], m["category"], ", ".join(CATEGORIES)))
        if "equivalent" in m and not (isinstance(m["equivalent"], str) and m["equivalent"].strip()):
            raise UsageError("%s (%s): \"equivalent\" must give the reason" % (where, m["id"]))
        if m["anchor"] == m["replace"]:
            raise UsageError("%s (%s): the replacement equals the anchor" % (where, m["id"]))
        for t in m.get("targets", cat["targets"]):
            if t not in cat["targets"]:
                raise UsageError("%s (%s): target %s is not one of the area's %s" % (
                    where, m["id"], t, cat["targets"]))
        m["area"] = area
    return cat


def anchor_regex(text):
    """The anchor with every whitespace run matching any whitespace run, so
    re-indenting or re-wrapping the code does not make a mutant stale."""
    parts = text.strip().split()
    return re.compile(r"\s+".join(re.escape(p) for p in parts))


def function_span(src, name):
    """(start, end) of the definition of function `name`: a line starting in
    column 0 that names it followed by "(", up to the first "}" in column 0."""
    defs = [m for m in re.finditer(r"^(?![ \t#/*])[^\n;]*\b%s\s*\(" % re.escape(name), src, re.M)
            if is_definition(src, m.end())]
    if len(defs) != 1:
        return None, "function %s is defined %d times in the file" % (name, len(defs))
    start = defs[0].start()
    end = re.compile(r"^\}", re.M).search(src, defs[0].end())
    if not end:
        return None, "function %s has no closing brace in column 0" % name
    return (start, end.end()), None


def is_definition(src, i):
    """Whether the parameter list opened just before src[i] is followed by a
    body (a definition) rather than ";" (a declaration)."""
    depth = 1
    while i < len(src) and depth:
        depth += {"(": 1, ")": -1}.get(src[i], 0)
        i += 1
    rest = src[i:i + 200].lstrip()
    return rest.startswith("{")


def locate(src, m):
    """(start, end) of the anchor in src, or (None, why it is stale)."""
    lo, hi = 0, len(src)
    if m.get("in"):
        span, why = function_span(src, m["in"])
        if span is None:
            return None, why
        lo, hi = span
    hits = list(anchor_regex(m["anchor"]).finditer(src, lo, hi))
    if len(hits) != 1:
        return None, "anchor %r occurs %d times%s" % (
            m["anchor"].strip()[:60], len(hits), " in %s()" % m["in"] if m.get("in") else "")
    return (hits[0].start(), hits[0].end()), None


def mutated_text(src, m):
    span, why = locate(src, m)
    if span is None:
        return None, why
    return src[:span[0]] + m["replace"] + src[span[1]:], None


# ------------------------------------------------------------ the trees --

def source_files():
    """The checkout's files as git sees them (tracked + untracked, not
    ignored), so a developer's uncommitted change is what gets mutated."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "-c", "-o", "--exclude-standard"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, fs in os.walk(ROOT):
            rel = os.path.relpath(d, ROOT)
            dirs[:] = [x for x in dirs if not (rel == "." and x in ("build", ".git"))]
            files += [os.path.normpath(os.path.join(rel, f)) for f in fs]
    return sorted(f for f in files if os.path.isfile(os.path.join(ROOT, f))
                  and not f.startswith("build/"))


def sync_tree(dst):
    """Makes dst a copy of the checkout, touching only files that differ (so
    the private build stays incremental).  Returns the number copied."""
    files = source_files()
    n = 0
    for f in files:
        s, d = os.path.join(ROOT, f), os.path.join(dst, f)
        try:
            with open(s, "rb") as a:
                want = a.read()
        except OSError:
            continue
        try:
            with open(d, "rb") as b:
                if b.read() == want and os.stat(s).st_mode == os.stat(d).st_mode:
                    continue
        except OSError:
            pass
        os.makedirs(os.path.dirname(d), exist_ok=True)
        write_bumped(d, want)
        shutil.copymode(s, d)
        n += 1
    keep = set(files)
    for d, dirs, fs in os.walk(dst):
        rel = os.path.relpath(d, dst)
        if rel == ".":
            dirs[:] = [x for x in dirs if x != "build"]
        for f in fs:
            r = os.path.normpath(os.path.join(rel, f))
            if r not in keep:
                os.unlink(os.path.join(d, f))
    return n


def write_bumped(path, data):
    """Writes data and gives the file an mtime later than any it had, so
    ninja rebuilds what depends on it even within one timestamp tick."""
    try:
        old = os.stat(path).st_mtime_ns
    except OSError:
        old = 0
    tmp = path + ".mutate-tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    t = max(time.time_ns(), old + 1000000)
    os.utime(path, ns=(t, t))


class Tree:
    """One private copy of the checkout with its std (gcc) and lf
    (libFuzzer ASan+UBSan) builds, configured from the project's presets."""

    def __init__(self, path, opts):
        self.path = path
        self.opts = opts
        self.std = os.path.join(path, "build", "std")
        self.lf = os.path.join(path, "build", "lf")
        self.children = set()
        self.lock = threading.Lock()

    def need_lf(self):
        return any(s in LF_STAGES for s in self.opts.stages)

    def prepare(self):
        os.makedirs(self.path, exist_ok=True)
        n = sync_tree(self.path)
        log("==> %s: %d files synced from the checkout" % (self.path, n))
        # the suite's own configuration, minus what the mutation check never
        # runs (native stress, AFL++/TSan/ASan replays: those tests skip).
        # No release build: with its directory unset every clean pairing runs
        # all its runs in build/lf (a release directory that was never built
        # would make each non-mainline clean test skip, and a skip passes).
        std = ["cmake", "--preset", "standalone-gcc", "-DPVFUZZ_NATIVE_STRESS=OFF",
               "-DPVFUZZ_AFL_DIR=", "-DPVFUZZ_TSAN_DIR=", "-DPVFUZZ_ASAN_DIR=", "-DPVFUZZ_RELEASE_DIR=",
               "-DPVFUZZ_LF_DIR=" + (self.lf if self.need_lf() else ""),
               "-DPVFUZZ_TEST_CLEAN_RUNS=%d" % self.opts.clean_runs]
        self.run_checked(std, "configure build/std")
        if self.need_lf():
            self.run_checked(["cmake", "--preset", "libfuzzer-asan-ubsan"], "configure build/lf")
        why = self.build()
        if why:
            raise ToolError("the unmutated tree does not build (%s)" % why)

    def run_checked(self, cmd, what):
        rc, out = self.run(cmd, timeout=1800)
        if rc != 0:
            raise ToolError("%s failed (exit %d): %s" % (what, rc, tail(out, 8)))

    def run(self, cmd, timeout, env=None, cwd=None):
        """Runs cmd in its own process group; on timeout kills that group."""
        e = dict(os.environ)
        for k in ("PVFUZZ_VARIANT", "PVFUZZ_PRINT_HASH", "PVFUZZ_LIST"):
            e.pop(k, None)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0")
        if env:
            e.update(env)
        p = subprocess.Popen(cmd, cwd=cwd or self.path, env=e, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        with self.lock:
            self.children.add(p.pid)
        try:
            out, _ = p.communicate(timeout=timeout)
            return p.returncode, out.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            kill_group(p.pid)
            out, _ = p.communicate()
            return None, out.decode("utf-8", "replace")
        finally:
            with self.lock:
                self.children.discard(p.pid)

    def kill_children(self):
        with self.lock:
            for pid in list(self.children):
                kill_group(pid)

    def build(self):
        """None, or why the build failed."""
        jobs = str(self.opts.build_jobs)
        dirs = [self.std] + ([self.lf] if self.need_lf() else [])
        for d in dirs:
            rc, out = self.run(["cmake", "--build", d, "-j", jobs], timeout=1800)
            if rc != 0:
                errs = [l for l in out.splitlines() if "error" in l.lower()]
                return "%s: %s" % (os.path.basename(d), (errs[:1] or [tail(out, 1)])[0].strip()[:300])
        return None

    # ----------------------------------------------------------- stages --

    def stage(self, name, targets, timeout, ctest_jobs=0):
        """None when the stage passes, else (test, reason)."""
        if name == "fuzz":
            return self.fuzz(targets, timeout)
        alt = "|".join(re.escape(t) for t in targets)
        regex = {
            "replay": r"^(unit\.|registry\.lister$|seeds\.(%s)$|regress\.mainline\.(%s)\.)" % (alt, alt),
            "regress": r"^regress\.std\.(%s)\." % alt,
            "decoder": r"^decoder\.(%s)$" % alt,
            "clean": r"^clean\.(%s)\." % alt,
            "scratch": r"^scratch\.(%s)\." % alt,
        }[name]
        # discovery failing (e.g. pvfuzz-list broken) is a failure too
        regex = "(%s|^discover\\.failed$|^registry\\.variant-tests$)" % regex
        cmd = ["ctest", "--test-dir", self.std, "-R", regex, "--output-on-failure", "--stop-on-failure",
               "--no-tests=error", "-j", str(ctest_jobs or self.opts.ctest_jobs)]
        rc, out = self.run(cmd, timeout=timeout)
        if rc is None:
            return ("ctest %s" % name, "no result within %d s (a hang)" % timeout)
        if rc == 0:
            return None
        return ctest_failure(out)

    def fuzz(self, targets, timeout):
        runs = self.opts.fuzz_runs
        for t in targets:
            exe = os.path.join(self.lf, t)
            if not os.access(exe, os.X_OK):
                raise ToolError("%s: no libFuzzer binary %s" % (t, exe))
            work = tempfile.mkdtemp(prefix="fuzz-%s-" % t, dir=self.path)
            try:
                corpus = os.path.join(work, "corpus")
                seeds = os.path.join(self.path, "corpora", t, "seeds")
                if os.path.isdir(seeds):
                    shutil.copytree(seeds, corpus)
                else:
                    os.makedirs(corpus)
                cmd = [exe, "-seed=%d" % self.opts.fuzz_seed, "-runs=%d" % runs, "-print_final_stats=1",
                       "-timeout=30", "-rss_limit_mb=2048", "-artifact_prefix=%s/" % work]
                cmd += libfuzzer_options(os.path.join(self.path, "corpora", t))
                rc, out = self.run(cmd + [corpus], timeout=timeout)
                if rc is None:
                    return ("fuzz.%s" % t, "no result within %d s (a hang)" % timeout)
                if rc != 0:
                    sm = SUMMARY_RE.search(out)
                    san = SAN_RE.search(out)
                    why = sm.group(0) if sm else san.group(0) if san else \
                        "libFuzzer exit %d: %s" % (rc, tail(out, 1))
                    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", out)
                    return ("fuzz.%s" % t, "%s (mainline, -runs=%d, after %s execs)" % (
                        why, runs, m.group(1) if m else "?"))
            finally:
                shutil.rmtree(work, ignore_errors=True)
        return None


def libfuzzer_options(corpus_dir):
    """-dict and -max_len from corpora/<t>/<t>.options ([libfuzzer] section)."""
    t = os.path.basename(corpus_dir)
    opts, sect = [], None
    try:
        with open(os.path.join(corpus_dir, t + ".options")) as f:
            for line in f:
                line = line.strip()
                if line.startswith("["):
                    sect = line.strip("[]").strip()
                elif sect == "libfuzzer" and "=" in line:
                    k, v = (x.strip() for x in line.split("=", 1))
                    if k == "dict":
                        v = os.path.join(corpus_dir, v)
                    opts.append("-%s=%s" % (k, v))
    except OSError:
        pass
    return opts


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def tail(text, n):
    lines = [l for l in text.splitlines() if l.strip()]
    return " / ".join(lines[-n:])[:400]


def ctest_failure(out):
    """(first failed test, its first FAIL line) from ctest --output-on-failure."""
    failed = re.findall(r"^\s*\d+ - (\S+) \((Failed|Timeout|SEGFAULT|Subprocess aborted|[^)]*)\)\s*$",
                        out, re.M)
    if not failed:
        if "No tests were found" in out:
            return ("ctest", "no tests matched (test discovery failed?)")
        return ("ctest", tail(out, 2))
    name, status = failed[0]
    reason = status
    # the failing test's own output follows its "Test #k: name ...***Failed" line
    m = re.search(r"Test\s+#\d+: %s \.+\s*\*+(\w+)[^\n]*\n(.*?)(?=^\s*\d+/\d+ Test\s+#|\Z)" %
                  re.escape(name), out, re.M | re.S)
    if m:
        body = m.group(2)
        # pvtest.py says "FAIL: why", the unit tests "FAIL file:line: why"
        fl = [l.strip() for l in body.splitlines() if re.match(r"\s*FAIL\b", l)]
        reason = re.sub(r"^FAIL:?\s*", "", fl[0]) if fl else (status + ": " + tail(body, 1))
    return (name, reason[:500])


# ----------------------------------------------------------------- runs --

def targets_of(m, cat):
    return m.get("targets") or cat["targets"]


def run_mutant(tree, m, cat, timeouts):
    t0 = time.monotonic()
    res = {k: m[k] for k in ("id", "area", "file", "category", "breaks")}
    if m.get("equivalent"):
        res["equivalent"] = m["equivalent"]
    path = os.path.join(tree.path, m["file"])
    try:
        with open(path, "rb") as f:
            orig = f.read()
    except OSError:
        res.update(status="stale", why="%s does not exist" % m["file"])
        return res
    new, why = mutated_text(orig.decode("utf-8", "replace"), m)
    if new is None:
        res.update(status="stale", why=why)
        return res
    write_bumped(path, new.encode())
    try:
        why = tree.build()
        if why:
            res.update(status="build_error", why=why)
            return res
        res["status"] = "survived"
        for s in tree.opts.stages:
            if res["status"] == "killed" and s in ("regress", "scratch"):
                continue  # a lost kill is known; only a firing stage adds news
            got = tree.stage(s, targets_of(m, cat), timeouts.get(s, 1800))
            if not got:
                continue
            kind = "lost" if LOST_RE.search(got[1]) else "fired"
            if res["status"] != "killed":
                res.update(status="killed", kind=kind, stage=s, test=got[0], why=got[1])
            else:
                res.update(kind="fired", fired_stage=s, fired_test=got[0], fired_why=got[1])
            if kind == "fired":
                break
    finally:
        write_bumped(path, orig)
        res["seconds"] = round(time.monotonic() - t0, 1)
        for k in ("why", "fired_why"):  # paths relative to the tree, as in the checkout
            if k in res:
                res[k] = res[k].replace(tree.path + "/", "")
    if res.get("equivalent"):
        res["status"] = "equivalent_killed" if res["status"] == "killed" else \
            "equivalent" if res["status"] == "survived" else res["status"]
    return res


def baseline(tree, targets):
    """Runs every stage on the unmutated tree; returns per-stage timeouts."""
    timeouts = {}
    for s in tree.opts.stages:
        t0 = time.monotonic()
        got = tree.stage(s, targets, 7200, ctest_jobs=2)  # the other trees are idle
        dt = time.monotonic() - t0
        if got:
            raise ToolError("baseline: the unmutated tree fails stage %s: %s: %s (fix the tree first: "
                            "a kill must mean the mutant)" % (s, got[0], got[1]))
        # generous: a machine under load is not a hang
        timeouts[s] = int(max(300, 5 * dt + 120))
        log("==> baseline %s: pass (%.0f s)" % (s, dt))
    return timeouts


def score(results):
    out = {}
    for area in sorted({r["area"] for r in results}):
        rs = [r for r in results if r["area"] == area]
        c = {k: sum(1 for r in rs if r["status"] == k) for k in (
            "killed", "survived", "equivalent", "equivalent_killed", "stale", "build_error")}
        den = c["killed"] + c["survived"]
        c["total"] = len(rs)
        c["fired"] = sum(1 for r in rs if r["status"] == "killed" and r.get("kind") == "fired")
        c["score"] = round(100.0 * c["killed"] / den, 1) if den else None
        c["fired_score"] = round(100.0 * c["fired"] / den, 1) if den else None
        out[area] = c
    return out


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": model or platform.processor() or "?", "cores": os.cpu_count(),
            "kernel": platform.release(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def git_head():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=True).stdout.decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def print_report(results, scores, out=sys.stdout):
    w = out.write
    w("| id | file | category | result | by |\n|---|---|---|---|---|\n")
    for r in results:
        by = ""
        if r["status"] in ("killed", "equivalent_killed"):
            by = "%s %s: `%s`: %s" % (r.get("kind", ""), r["stage"], r["test"], r["why"].replace("|", "/")[:160])
            if "fired_stage" in r:
                by += "; then fired in %s: `%s`: %s" % (r["fired_stage"], r["fired_test"],
                                                      r["fired_why"].replace("|", "/")[:120])
        elif r["status"] in ("stale", "build_error"):
            by = r["why"].replace("|", "/")[:160]
        elif r["status"] == "equivalent":
            by = "equivalent: " + r["equivalent"].replace("|", "/")[:160]
        w("| %s | %s | %s | %s | %s |\n" % (r["id"], r["file"], r["category"], r["status"], by))
    w("\n")
    for area, c in scores.items():
        w("%s: score %s (killed %d / non-equivalent %d; an oracle fired for %d: %s); equivalent %d, "
          "stale %d, build errors %d%s\n" % (
            area, "%.1f%%" % c["score"] if c["score"] is not None else "n/a", c["killed"],
            c["killed"] + c["survived"], c["fired"],
            "%.1f%%" % c["fired_score"] if c["fired_score"] is not None else "n/a",
            c["equivalent"], c["stale"], c["build_error"],
            "; EQUIVALENT CLAIMS REFUTED: %d" % c["equivalent_killed"] if c["equivalent_killed"] else ""))


def write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (not argparse's usage block)
        raise UsageError(message)


def parse_args(argv):
    ap = Parser(prog="bench/mutate.py", description=__doc__.splitlines()[0])
    ap.add_argument("--area", default="all", choices=("clock", "mm", "all"))
    ap.add_argument("--only", default="", help="comma-separated mutant ids")
    ap.add_argument("--jobs", type=int, default=1, help="mutants in parallel (one private tree each)")
    ap.add_argument("--fuzz-runs", type=int, default=50000,
                    help="libFuzzer runs per target in the fuzz stage (0: skip the stage)")
    ap.add_argument("--fuzz-seed", type=int, default=7)
    ap.add_argument("--clean-runs", type=int, default=50000,
                    help="libFuzzer runs per clean.* test (the suite uses 200000)")
    ap.add_argument("--stages", default=",".join(STAGES),
                    help="comma-separated subset of %s, run in that order" % ",".join(STAGES))
    ap.add_argument("--json", default="", help="write the results here")
    ap.add_argument("--workdir", default="", help="private trees (default $TMPDIR/pvfuzz-mutate-<hash>)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the run of the unmutated tree")
    ap.add_argument("--catalogue-dir", default=CATALOGUE_DIR, help="where <area>.json are (tests)")
    ap.add_argument("--list", action="store_true", help="print the catalogue with each anchor's state; "
                    "build nothing")
    ap.add_argument("--ctest-jobs", type=int, default=0, help="ctest -j (default: 2 / --jobs)")
    a = ap.parse_args(argv)
    bj = os.environ.get("PVFUZZ_BUILD_JOBS", "") or "2"
    if not bj.isdigit() or not 1 <= int(bj) <= 64:
        raise UsageError("PVFUZZ_BUILD_JOBS=%r: want a count 1..64" % bj)
    a.build_jobs = int(bj)
    if not 1 <= a.jobs <= 16:
        raise UsageError("--jobs must be 1..16")
    if a.fuzz_runs < 0 or a.clean_runs < 1 or a.ctest_jobs < 0:
        raise UsageError("--fuzz-runs and --ctest-jobs must be >= 0, --clean-runs >= 1")
    st = [s.strip() for s in a.stages.split(",") if s.strip()]
    bad = [s for s in st if s not in STAGES]
    if bad or not st:
        raise UsageError("--stages: unknown %s (choose from %s)" % (",".join(bad) or "(none)", ",".join(STAGES)))
    if a.fuzz_runs == 0:
        st = [s for s in st if s != "fuzz"]
    a.stages = [s for s in STAGES if s in st]
    a.ctest_jobs = a.ctest_jobs or max(1, 2 // a.jobs)
    return a


def main(argv):
    a = parse_args(argv)
    areas = ("clock", "mm") if a.area == "all" else (a.area,)
    cats = {ar: load_catalogue(ar, a.catalogue_dir) for ar in areas}
    mutants = [m for ar in areas for m in cats[ar]["mutants"]]
    if a.only:
        want = [x.strip() for x in a.only.split(",") if x.strip()]
        known = {m["id"] for m in mutants}
        unknown = [x for x in want if x not in known]
        if unknown:
            raise UsageError("--only: no mutant %s in the %s catalogue" % (",".join(unknown), "/".join(areas)))
        mutants = [m for m in mutants if m["id"] in want]
    if a.list:
        for m in mutants:
            try:
                with open(os.path.join(ROOT, m["file"])) as f:
                    span, why = locate(f.read(), m)
            except OSError:
                span, why = None, "%s does not exist" % m["file"]
            print("%-10s %-28s %-22s %s" % (m["id"], m["file"], m["category"],
                                            "ok" if span else "STALE: " + why))
        return 0
    for tool in ("cmake", "ctest", "ninja", "gcc") + (("clang",) if any(s in LF_STAGES for s in a.stages) else ()):
        if not shutil.which(tool):
            raise ToolError("%s is not installed (./pvfuzz bench installs what is missing)" % tool)
    base = a.workdir or os.path.join(tempfile.gettempdir(), "pvfuzz-mutate-" + hashlib.sha1(
        ROOT.encode()).hexdigest()[:10])
    trees = [Tree(os.path.join(base, "w%d" % k), a) for k in range(a.jobs)]
    doc = {"machine": machine(), "commit": git_head(), "command": "bench/mutate.py " + " ".join(argv),
           "stages": a.stages, "fuzz_runs": a.fuzz_runs, "clean_runs": a.clean_runs, "results": []}
    results = [None] * len(mutants)
    t_start = time.monotonic()

    def interrupted(*_):
        for t in trees:
            t.kill_children()
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    try:
        for t in trees:
            t.prepare()
        timeouts = {}
        if not a.no_baseline:
            alltargets = sorted({t for m in mutants for t in targets_of(m, cats[m["area"]])})
            if alltargets:
                timeouts = baseline(trees[0], alltargets)
        q = queue.Queue()
        for i, m in enumerate(mutants):
            q.put(i)
        errors = []

        def worker(tree):
            while True:
                try:
                    i = q.get_nowait()
                except queue.Empty:
                    return
                m = mutants[i]
                try:
                    r = run_mutant(tree, m, cats[m["area"]], timeouts)
                except Exception as ex:  # noqa: BLE001 - reported as a tool failure below
                    errors.append("%s: %s" % (m["id"], ex))
                    return
                results[i] = r
                log("%-10s %-9s %6.1fs %s" % (r["id"], r["status"], r.get("seconds", 0), (
                    "%s %s: %s" % (r["stage"], r["test"], r["why"]) if "stage" in r else r.get("why", ""))[:200]))
        ths = [threading.Thread(target=worker, args=(t,), daemon=True) for t in trees]
        for th in ths:
            th.start()
        for th in ths:
            while th.is_alive():
                th.join(0.5)
        if errors:
            raise ToolError("; ".join(errors))
    except KeyboardInterrupt:
        for t in trees:
            t.kill_children()
        done = [r for r in results if r]
        doc.update(results=done, scores=score(done), interrupted=True)
        if a.json:
            write_json(a.json, doc)
        log("pvfuzz mutate: interrupted after %d of %d mutants" % (len(done), len(mutants)))
        return 130
    done = [r for r in results if r]
    doc.update(results=done, scores=score(done), seconds=round(time.monotonic() - t_start))
    print_report(done, doc["scores"])
    print("wall time %d s, %s, %d cores, commit %s" % (doc["seconds"], doc["machine"]["cpu"],
                                                       doc["machine"]["cores"], doc["commit"]))
    if a.json:
        write_json(a.json, doc)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as ex:
        print("mutate: %s" % ex, file=sys.stderr)
        sys.exit(2)
    except ToolError as ex:
        print("mutate: %s" % ex, file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:  # | head
        sys.exit(0)
