#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pvfuzz ctest driver (python3 stdlib only).

Every subcommand is one ctest test (or, `discover`, writes the per-variant
ctest file that tests/discover.cmake includes when ctest starts).  Exit codes:
0 pass, 1 fail (with the reason on stderr), 77 skipped (with the reason: a
build or binary the test needs is missing).

The registry comes from `pvfuzz-list --json` (build/std); every expectation a
test checks (oracle names, partners, mainlines) is read from it, never copied
into this file.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
SUMMARY_RE = re.compile(r"SUMMARY: pvfuzz: ([A-Za-z0-9_]+)")
# PVFUZZ_PRINT_HASH=1 prints "pvfuzz: trace-hash H" after a run; a finding's
# report prints "==pvfuzz== trace-hash H" before it aborts
HASH_RE = re.compile(r"(?:pvfuzz:|==pvfuzz==) trace-hash ([0-9a-f]{16})")
REPLAY_RE = re.compile(r"^(.*): trace-hash ([0-9a-f]{16}) outcome ([A-Za-z0-9_]+)$")
SAN_RE = re.compile(r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer): [A-Za-z0-9_-]+")
ORACLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def skip(msg):
    raise Skip(msg)


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def log(msg):
    print(msg, flush=True)


def san_options(*names):
    """sanitizers/NAME.options as one *SAN_OPTIONS value (later files override)."""
    opts = []
    for n in names:
        with open(os.path.join(SRC, "sanitizers", n + ".options")) as f:
            opts += [l.split("#", 1)[0].strip() for l in f]
    return ":".join(o for o in opts if o)


def run(cmd, env=None, timeout=600, stdin=subprocess.DEVNULL):
    e = dict(os.environ)
    # a variant or hash request leaking in from the caller's shell would
    # change what every test runs
    for k in ("PVFUZZ_VARIANT", "PVFUZZ_PRINT_HASH"):
        e.pop(k, None)
    e.setdefault("ASAN_OPTIONS", san_options("asan"))
    e.setdefault("UBSAN_OPTIONS", san_options("ubsan"))
    if env:
        e.update(env)
    try:
        p = subprocess.run(cmd, env=e, stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail("timed out after %ds (a hang, not a slow machine: the bound is "
                   "generous): %s" % (timeout, " ".join(cmd)))
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def need_exe(path, what):
    if not path:
        skip("%s: its build directory was not given to cmake" % what)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        skip("%s: %s does not exist (build it first)" % (what, path))
    return path


def oneline(stderr):
    return [l for l in stderr.splitlines() if l.strip()]


# ---------------------------------------------------------------- registry --

def load_registry(lister):
    lister = os.environ.get("PVFUZZ_LIST") or lister  # development override
    if not lister or not os.path.isfile(lister):
        skip("pvfuzz-list is not built (%s): registry-driven tests need "
             "`pvfuzz-list --json`" % (lister or "no path"))
    rc, out, err = run([lister, "--json"], timeout=60)
    check(rc == 0, "pvfuzz-list --json exited %d: %s" % (rc, err.strip()))
    try:
        reg = json.loads(out)
    except ValueError as ex:
        raise Fail("pvfuzz-list --json printed invalid JSON: %s" % ex)
    check(isinstance(reg, list) and reg, "pvfuzz-list --json: expected a non-empty array")
    for v in reg:
        for k in ("name", "protocol", "role", "expect", "partner", "mainline"):
            check(k in v, "pvfuzz-list --json: variant %r lacks %r" % (v.get("name"), k))
    return reg


def by_name(reg):
    return {v["name"]: v for v in reg}


def lister_path(lister):
    return os.environ.get("PVFUZZ_LIST") or lister


def c_query(lister, args):
    """A pvfuzz-list query (--select, --runs, --combos, --protocols) as JSON:
    pairings and expectations come from the C registry, never from here."""
    lister = lister_path(lister)
    if not lister or not os.path.isfile(lister):
        skip("pvfuzz-list is not built (%s)" % (lister or "no path"))
    rc, out, err = run([lister] + list(args) + ["--json"], timeout=60)
    check(rc == 0, "pvfuzz-list %s exited %d: %s" % (" ".join(args), rc, err.strip()))
    try:
        return json.loads(out)
    except ValueError as ex:
        raise Fail("pvfuzz-list %s printed invalid JSON: %s" % (" ".join(args), ex))


def c_select(lister, spec, proto=None):
    return c_query(lister, ["--select", spec] + (["--protocol", proto] if proto else []))


def selection_expect(lister, spec, proto=None):
    """Oracles the selection PVFUZZ_VARIANT=spec may trip, or None when safe."""
    e = c_select(lister, spec, proto)["expect"]
    return None if e == "safe" else e.split("|")


def target_protocol(exe, reg):
    """Which protocol a target serves: ask it (a variant of another protocol
    is refused with "... belongs to X, not P")."""
    names = sorted(v["name"] for v in reg)
    with tempfile.NamedTemporaryFile() as f:
        for n in names:
            rc, out, err = run([exe, "--check-determinism", "1", f.name],
                               env={"PVFUZZ_VARIANT": n}, timeout=60)
            if rc == 0:
                return by_name(reg)[n]["protocol"]
            m = re.search(r"not ([A-Za-z0-9_]+)\s*$", err.strip())
            if m:
                return m.group(1)
    return None


def expect_of(v):
    """Oracles a variant alone may trip, or None when it is safe (whether a
    variant is buggy at all; a selection's expectation is selection_expect)."""
    e = v["expect"] or "safe"
    return None if e == "safe" else e.split("|")


# ------------------------------------------------------------------- unit --

def cmd_registry_lister(a):
    reg = load_registry(a.lister)
    names = [v["name"] for v in reg]
    check(len(names) == len(set(names)), "pvfuzz-list: duplicate names")
    check(names == sorted(names), "pvfuzz-list: not sorted by name")
    byn = by_name(reg)
    for v in reg:
        check(v["expect"] and (v["expect"] == "safe" or all(
            ORACLE_NAME_RE.match(o) for o in v["expect"].split("|"))),
            "%s: bad expect %r" % (v["name"], v["expect"]))
        if v["partner"]:
            check(v["partner"] in byn, "%s: partner %s unknown" % (v["name"], v["partner"]))
    log("pvfuzz-list --json: %d variants, consistent" % len(reg))


def cmd_variants_doc(a):
    """docs/variants.md is what tools/gen_variants_md.py makes of this registry."""
    doc = os.path.join(SRC, "docs", "variants.md")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "variants.md")
        rc, _, err = run([sys.executable, os.path.join(SRC, "tools", "gen_variants_md.py"),
                          "--list", a.lister, "-o", out], timeout=120)
        check(rc == 0, "gen_variants_md.py exit %d: %s" % (rc, err.strip()[-500:]))
        with open(out) as f, open(doc) as g:
            want, have = f.read(), g.read()
    stale = [l for l in want.splitlines() if l not in have.splitlines()]
    check(want == have, "docs/variants.md is stale (regenerate: python3 tools/gen_variants_md.py "
          "--list build/std/pvfuzz-list -o docs/variants.md); first differing line: %s" % (
              stale[0][:200] if stale else "(order or removed lines)"))
    log("docs/variants.md matches the registry")


# ---------------------------------------------------------------- decoder --

def gen_inputs(n, seed):
    """Edge inputs first, then random ones of assorted sizes."""
    r = random.Random(seed)
    ins = [b"", b"\x00", b"\xff", b"\xff" * 4, b"\x00" * 4, b"\xff" * 64,
           b"\xff" * 4096, b"\x00" * 4096, b"\xff" * 65536, b"\x00" * 65536,
           bytes(range(256)) * 256, bytes(r.getrandbits(8) for _ in range(65536))]
    for m in range(256):
        ins.append(bytes([m]))          # every mode byte alone
    for m in range(0, 256, 7):
        ins.append(bytes([m]) + b"\xff" * 63)
    while len(ins) < n:
        k = r.choice((1, 2, 3, 5, 8, 13, 24, 40, 64, 100, 200, 400, 1000, 3000))
        sz = r.randrange(k + 1)
        style = r.randrange(4)
        if style == 0:
            b = bytes(r.getrandbits(8) for _ in range(sz))
        elif style == 1:
            b = bytes(r.choice((0, 1, 0x7f, 0x80, 0xfe, 0xff)) for _ in range(sz))
        elif style == 2:
            b = bytes([r.getrandbits(8)]) + bytes(sz)
        else:
            b = bytes([r.getrandbits(8) | 0x1f]) + bytes(r.getrandbits(8) for _ in range(sz))
        ins.append(b)
    return ins[:n]


def replay_many(exe, files, env, extra, timeout=900):
    """Runs the std replayer over files in batches; returns {file: (hash, outcome)}."""
    res = {}
    for i in range(0, len(files), 400):
        batch = files[i:i + 400]
        rc, out, err = run([exe] + extra + batch, env=env, timeout=timeout)
        got = {}
        for line in out.splitlines():
            m = REPLAY_RE.match(line)
            if m:
                got[m.group(1)] = (m.group(2), m.group(3))
        missing = [f for f in batch if f not in got]
        if rc not in (0, 1) or missing:
            tail = "\n".join(err.splitlines()[-15:])
            raise Fail("replayer exited %d with %d of %d files unreported (first: %s); the "
                       "harness itself died:\n%s" % (rc, len(missing), len(batch),
                                                     missing[:1], tail))
        if "NONDETERMINISTIC" in err:
            raise Fail("nondeterministic replay:\n" + "\n".join(
                l for l in err.splitlines() if "NONDETERMINISTIC" in l)[:2000])
        res.update(got)
    return res


def cmd_decoder(a):
    exe = need_exe(a.exe, "std replayer")
    tmp = tempfile.mkdtemp(prefix="pvfuzz-dec-")
    try:
        ins = gen_inputs(a.count, a.seed)
        files = []
        for i, b in enumerate(ins):
            p = os.path.join(tmp, "in%05d" % i)
            with open(p, "wb") as f:
                f.write(b)
            files.append(p)
        # mainline pairing: no oracle may fire, and replays are deterministic
        res = replay_many(exe, files, None, ["--expect", "none", "--check-determinism", "2"])
        bad = [(f, o) for f, (h, o) in res.items() if o != "none"]
        check(not bad, "mainline pairing: %d of %d inputs tripped an oracle, e.g. %s -> %s" % (
            len(bad), len(files), bad[:1][0][0] if bad else "", bad[:1][0][1] if bad else ""))
        log("mainline: %d inputs (empty, 1 byte, all-0xff, 64 KiB, random), outcome none, "
            "deterministic" % len(files))
        # every variant, chosen by the input itself: any finite outcome
        k = max(1, len(files) // 2)
        res = replay_many(exe, files[:k], {"PVFUZZ_VARIANT": "input"}, ["--check-determinism", "2"])
        outs = {}
        for f, (h, o) in res.items():
            check(o == "none" or ORACLE_NAME_RE.match(o), "%s: odd outcome %r" % (f, o))
            outs[o] = outs.get(o, 0) + 1
        log("PVFUZZ_VARIANT=input: %d inputs, outcomes %s" % (k, outs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cmd_seeds(a):
    exe = need_exe(a.exe, "std replayer")
    d = os.path.join(SRC, "corpora", a.target, "seeds")
    if not os.path.isdir(d):
        skip("corpora/%s/seeds does not exist yet" % a.target)
    files = sorted(os.path.join(d, f) for f in os.listdir(d) if not f.startswith("."))
    check(files, "corpora/%s/seeds is empty" % a.target)
    res = replay_many(exe, files, None, ["--expect", "none", "--check-determinism", "10"])
    bad = sorted((f, o) for f, (h, o) in res.items() if o != "none")
    check(not bad, "seeds tripping an oracle with the mainline pairing: %s" % bad)
    # every other combination the registry calls safe replays them clean too: a
    # seed's interleaving means as much with a hypercall backend as with mainline's
    protos = {p["target"]: p["protocol"] for p in c_query(a.lister, ["--protocols"])}
    safe = [c["spec"] for c in c_query(a.lister, ["--combos", protos[a.target]])
            if c["expect"] == "safe"] if a.target in protos else []
    for spec in safe:
        res = replay_many(exe, files, {"PVFUZZ_VARIANT": spec}, ["--expect", "none"])
        bad = sorted((f, o) for f, (h, o) in res.items() if o != "none")
        check(not bad, "seeds tripping an oracle with the safe combination %s: %s" % (spec, bad))
    opt = os.path.join(SRC, "corpora", a.target, a.target + ".options")
    if os.path.isfile(opt):
        with open(opt) as f:
            m = re.search(r"^\s*dict\s*=\s*(\S+)", f.read(), re.M)
        if m:
            check(os.path.isfile(os.path.join(SRC, "corpora", a.target, m.group(1))),
                  "%s names a missing dictionary %s" % (opt, m.group(1)))
    log("%d seeds: outcome none, 10 identical replays each; none with each of the %d safe "
        "combinations" % (len(files), len(safe)))


# ---------------------------------------------------------------- regress --

def regress_variant(a, reg):
    byn = by_name(reg)
    v = byn.get(a.variant)
    check(v is not None, "corpora/regress/%s/%s: no variant %s in the registry" % (
        a.target, a.variant, a.variant))
    exp = selection_expect(a.lister, a.variant)
    check(exp is not None, "corpora/regress/%s/%s: variant %s is safe; a reproducer for a "
          "safe variant is a false positive or a stale file" % (a.target, a.variant, a.variant))
    return v, exp


def std_replay(exe, variant, path, expect, check_det=0):
    extra = ["--expect", expect]
    if check_det:
        extra += ["--check-determinism", str(check_det)]
    rc, out, err = run([exe] + extra + [path], env={"PVFUZZ_VARIANT": variant}, timeout=600)
    m = REPLAY_RE.match(out.strip().splitlines()[-1] if out.strip() else "")
    check(m, "std replayer printed no outcome (rc %d): %s" % (rc, err.strip()[-2000:]))
    return rc, m.group(2), m.group(3), err


def cmd_regress_std(a):
    exe = need_exe(a.exe, "std replayer")
    v, exp = regress_variant(a, load_registry(a.lister))
    rc, h, outcome, err = std_replay(exe, a.variant, a.file, "|".join(exp), check_det=a.determinism)
    check("NONDETERMINISTIC" not in err, "nondeterministic over %d replays: %s" % (
        a.determinism, err.strip()[-500:]))
    check(outcome in exp, "%s: outcome %s, registry expects %s" % (a.file, outcome, "|".join(exp)))
    check(rc == 0, "replayer exit %d: %s" % (rc, err.strip()[-500:]))
    log("std: %s -> %s (expects %s), trace-hash %s, %d replays identical" % (
        os.path.basename(a.file), outcome, "|".join(exp), h, a.determinism))


def lister_select(lister, spec):
    """The registry's answer for one selection (`pvfuzz-list --select SPEC
    --json`): roles, expect, and the mainline counterpart.  The pairing rule
    lives in the C registry only; this just asks it."""
    lister = os.environ.get("PVFUZZ_LIST") or lister  # development override
    if not lister or not os.path.isfile(lister):
        skip("pvfuzz-list is not built (%s)" % (lister or "no path"))
    rc, out, err = run([lister, "--select", spec, "--json"], timeout=60)
    check(rc == 0, "pvfuzz-list --select %s exited %d: %s" % (spec, rc, err.strip()))
    try:
        sel = json.loads(out)
    except ValueError as ex:
        raise Fail("pvfuzz-list --select %s printed invalid JSON: %s" % (spec, ex))
    for k in ("expect", "spec", "counterpart", "buggy", "roles"):
        check(k in sel, "pvfuzz-list --select %s: no %r in %s" % (spec, k, out.strip()[:300]))
    return sel


def cmd_regress_mainline(a):
    """The reproducer with its buggy role(s) replaced by mainline fires
    nothing, so the reproducer can only pass because the oracle saw the bug."""
    exe = need_exe(a.exe, "std replayer")
    v, exp = regress_variant(a, load_registry(a.lister))
    sel = lister_select(a.lister, a.variant)
    check(sel["buggy"], "pvfuzz-list --select %s names no buggy role, but the registry expects %s" % (
        a.variant, "|".join(exp)))
    cp = sel["counterpart"]
    csel = lister_select(a.lister, cp)
    # a variant safe with the rest of the counterpart may stay (safe_with)
    check(csel["expect"] == "safe",
          "counterpart %s of %s is not a safe selection (buggy %s, expect %s)" % (
              cp, sel["spec"], csel["buggy"], csel["expect"]))
    rc, h, outcome, err = std_replay(exe, cp, a.file, "none", check_det=a.determinism)
    check("NONDETERMINISTIC" not in err, "nondeterministic over %d replays against %s: %s" % (
        a.determinism, cp, err.strip()[-500:]))
    if outcome != "none":
        keep = keep_artifact(a.file, "regress.mainline.%s.%s" % (a.target, a.variant))
        _, tout, terr = run([exe, "--trace", a.file], env={"PVFUZZ_VARIANT": cp}, timeout=600)
        trace = "\n".join((terr + tout).strip().splitlines()[-40:])
        check(False, "%s replayed against the mainline counterpart %s (buggy %s replaced) fires %s, "
              "trace-hash %s: a finding against mainline, or an oracle that cries wolf; the input is "
              "kept as %s; the last trace lines:\n%s" % (
                  a.file, cp, ",".join(sel["buggy"]), outcome, h, keep, trace))
    check(rc == 0, "replayer exit %d: %s" % (rc, err.strip()[-500:]))
    log("mainline: %s against %s (for %s) -> none, trace-hash %s, %d replays identical" % (
        os.path.basename(a.file), cp, sel["spec"], h, a.determinism))


def engine_replay(exe, variant, path):
    """Runs a libFuzzer or AFL++ (libAFLDriver) binary on one file."""
    rc, out, err = run([exe, path], env={"PVFUZZ_VARIANT": variant, "PVFUZZ_PRINT_HASH": "1"},
                       timeout=600)
    hashes = HASH_RE.findall(err)
    sm = SUMMARY_RE.findall(err)
    return rc, hashes, sm, err


def cmd_regress_engine(a):
    exe = need_exe(a.engine_exe, "%s binary" % a.engine)
    std = need_exe(a.exe, "std replayer")
    v, exp = regress_variant(a, load_registry(a.lister))
    check(a.engine != "afl" or os.path.getsize(a.file) > 0, "%s is empty: libAFLDriver does not run 0-byte files, so "
          "reproducers must not be empty (tools/make_regress.sh avoids it)" % a.file)
    _, h_std, o_std, _ = std_replay(std, a.variant, a.file, "|".join(exp))
    rc, hashes, sm, err = engine_replay(exe, a.variant, a.file)
    check(rc != 0, "%s build: exit 0 on a reproducer (no finding)" % a.engine)
    if not sm and SAN_RE.search(err):
        # the sanitizer caught the same instant first (e.g. ASan use-after-poison on a
        # freed table page where std reports table_uaf): same trace hash required
        check(hashes and hashes[-1] == h_std, "%s build: %s, trace hash %s, std %s (%s)" % (
            a.engine, SAN_RE.search(err).group(0), hashes[-1:] or "none", h_std, o_std))
        log("%s: %s -> %s (std: %s), trace-hash %s == std" % (
            a.engine, os.path.basename(a.file), SAN_RE.search(err).group(0), o_std, h_std))
        return
    check(sm, "%s build: exit %d without a 'SUMMARY: pvfuzz:' line:\n%s" % (
        a.engine, rc, err.strip()[-1500:]))
    check(sm[0] in exp, "%s build: oracle %s, registry expects %s" % (a.engine, sm[0], "|".join(exp)))
    check(sm[0] == o_std, "%s build reports %s, std build %s" % (a.engine, sm[0], o_std))
    check(hashes, "%s build printed no trace hash (PVFUZZ_PRINT_HASH=1)" % a.engine)
    check(hashes[-1] == h_std, "trace hash differs: %s %s, std %s" % (a.engine, hashes[-1], h_std))
    log("%s: %s -> %s, trace-hash %s == std" % (a.engine, os.path.basename(a.file), sm[0], h_std))


def cmd_regress_replayer(a):
    """Another standalone build (ASan, TSan): same oracle, same trace hash."""
    alt = need_exe(a.engine_exe, "%s standalone replayer" % a.engine)
    std = need_exe(a.exe, "std replayer")
    v, exp = regress_variant(a, load_registry(a.lister))
    _, h_std, o_std, _ = std_replay(std, a.variant, a.file, "|".join(exp))
    rc, out, err = run([alt, "--expect", "|".join(exp), a.file], env={"PVFUZZ_VARIANT": a.variant},
                       timeout=600)
    m = REPLAY_RE.match(out.strip().splitlines()[-1] if out.strip() else "")
    if not m and SAN_RE.search(err) and a.engine == "asan":
        # ASan caught the same instant first (use-after-poison on a freed table
        # page where std reports table_uaf): the trace hash must match
        hs = HASH_RE.findall(err)
        check(hs and hs[-1] == h_std, "%s build: %s, trace hash %s, std %s (%s)" % (
            a.engine, SAN_RE.search(err).group(0), hs[-1:] or "none", h_std, o_std))
        log("%s: %s -> %s (std: %s), trace-hash %s == std" % (
            a.engine, os.path.basename(a.file), SAN_RE.search(err).group(0), o_std, h_std))
        return
    check(m, "%s replayer printed no outcome (rc %d): %s" % (a.engine, rc, err.strip()[-2000:]))
    h, o = m.group(2), m.group(3)
    check("WARNING: ThreadSanitizer" not in err and "ERROR: AddressSanitizer" not in err,
          "%s build: sanitizer report:\n%s" % (a.engine, err[-2000:]))
    check(o == o_std, "%s build: outcome %s, std %s" % (a.engine, o, o_std))
    check(h == h_std, "trace hash differs: %s %s, std %s" % (a.engine, h, h_std))
    check(rc == 0, "%s build: replayer exit %d" % (a.engine, rc))
    log("%s: %s -> %s, trace-hash %s == std" % (a.engine, os.path.basename(a.file), o, h))


# ---------------------------------------------------------------- fuzzing --

def lf_run(exe, variant, seed, runs, workdir, extra=(), timeout=1500):
    env = {"PVFUZZ_VARIANT": variant} if variant else {}
    corpus = os.path.join(workdir, "corpus-%d" % seed)
    os.makedirs(corpus, exist_ok=True)
    cmd = [exe, "-seed=%d" % seed, "-runs=%d" % runs, "-print_final_stats=1",
           "-artifact_prefix=" + workdir + "/", "-timeout=30", "-rss_limit_mb=2048"] + \
        list(extra) + [corpus]
    rc, out, err = run(cmd, env=env, timeout=timeout)
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", err)
    execs = int(m.group(1)) if m else None
    return rc, err, execs


def keep_artifact(path, name):
    """Keeps a failing test's input for triage: <test cwd>/pvfuzz-artifacts/<name>."""
    d = os.path.join(os.getcwd(), "pvfuzz-artifacts")
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, name)
    shutil.copyfile(path, dst)
    return dst


def cmd_scratch(a):
    exe = need_exe(a.lf_exe, "libFuzzer binary")
    std = need_exe(a.exe, "std replayer")
    reg = load_registry(a.lister)
    v = by_name(reg).get(a.variant)
    check(v is not None, "no variant %s" % a.variant)
    exp = selection_expect(a.lister, a.variant)
    check(exp, "%s is safe: nothing to find" % a.variant)
    tmp = tempfile.mkdtemp(prefix="pvfuzz-scratch-")
    need = a.need or len(a.seeds)
    found, missed = [], []
    try:
        for seed in a.seeds:
            if len(found) >= need or len(missed) > len(a.seeds) - need:
                break
            d = os.path.join(tmp, "s%d" % seed)
            os.makedirs(d)
            rc, err, execs = lf_run(exe, a.variant, seed, a.runs, d)
            sm = SUMMARY_RE.findall(err)
            arts = [f for f in os.listdir(d) if f.startswith("crash-")]
            if rc != 0 and not sm and arts and SAN_RE.search(err):
                # a sanitizer is an oracle too: the std build (no sanitizer) must name
                # the same instant with an expected oracle
                _, h, o, _ = std_replay(std, a.variant, os.path.join(d, arts[0]), "|".join(exp))
                if o not in exp:
                    keep = keep_artifact(os.path.join(d, arts[0]), "scratch.%s.%s.seed%d" % (
                        a.target, a.variant, seed))
                    why = [l for l in err.splitlines() if "runtime error" in l or "ERROR: " in l][:2]
                    check(False, "seed %d: %s (%s), and the artifact replays as %s in std (expects "
                          "%s); kept as %s" % (seed, SAN_RE.search(err).group(0), " / ".join(why), o,
                                               "|".join(exp), keep))
                log("seed %d: %s after %s execs (bound %d); std replays it as %s" % (
                    seed, SAN_RE.search(err).group(0), execs, a.runs, o))
                found.append(seed)
                continue
            if not (rc != 0 and sm):
                log("seed %d: no finding within -runs=%d (exit %d, %s execs)" % (seed, a.runs, rc, execs))
                missed.append(seed)
                continue
            if sm[0] not in exp and arts:
                keep = keep_artifact(os.path.join(d, arts[0]), "scratch.%s.%s.seed%d" % (
                    a.target, a.variant, seed))
                check(False, "seed %d: oracle %s, registry expects %s; kept as %s" % (
                    seed, sm[0], "|".join(exp), keep))
            check(sm[0] in exp, "seed %d: oracle %s, registry expects %s" % (seed, sm[0], "|".join(exp)))
            check(arts, "seed %d: libFuzzer wrote no crash artifact" % seed)
            _, h, o, _ = std_replay(std, a.variant, os.path.join(d, arts[0]), "|".join(exp))
            check(o == sm[0], "seed %d: the artifact replays as %s in the std build, libFuzzer "
                  "reported %s" % (seed, o, sm[0]))
            log("seed %d: %s after %s execs (bound %d); artifact replays identically in std" % (
                seed, sm[0], execs, a.runs))
            found.append(seed)
        check(len(found) >= need, "found by %d of seeds %s within -runs=%d, need %d; the bound is "
              "3-5x the measured maximum (tests/scratch_bounds.json)" % (
                  len(found), a.seeds, a.runs, need))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def clean_pass(exe, a, seed, runs, what):
    """One libFuzzer pass over a safe selection: no finding, every run executed."""
    tmp = tempfile.mkdtemp(prefix="pvfuzz-clean-")
    try:
        rc, err, execs = lf_run(exe, a.variant, seed, runs, tmp)
        sm = SUMMARY_RE.findall(err)
        arts = [f for f in os.listdir(tmp) if f.startswith("crash-")]
        keep = keep_artifact(os.path.join(tmp, arts[0]), "clean.%s.%s" % (
            a.target, a.variant or "mainline")) if arts else "-"
        check(rc == 0 and not sm, "%s (%s): finding after %s execs (exit %d, reproducer kept as %s): %s" % (
            a.variant or "mainline", what, execs, rc, keep, "\n".join(
                l for l in err.splitlines() if "SUMMARY" in l)[:1500] or err.strip()[-1500:]))
        check(execs is not None and execs >= runs, "%s: only %s of %d runs executed" % (what, execs, runs))
        return execs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cmd_clean(a):
    """A safe selection stays clean.  The mainline pairing runs all its runs
    in the ASan+UBSan libFuzzer build; the other safe combinations run them
    in the release build (the same code and oracles, -O2 without sanitizers,
    2-2.6x the runs per CPU-second) plus a tenth as many under ASan+UBSan,
    so the sanitizers still see every combination."""
    exe = need_exe(a.lf_exe, "libFuzzer binary")
    if a.variant:
        sel = c_select(a.lister, a.variant, a.protocol or None)
        check(sel["expect"] == "safe", "%s is not a safe selection (expects %s)" % (
            sel["label"], sel["expect"]))
    if a.fast_exe:
        fast = need_exe(a.fast_exe, "release libFuzzer binary")
        n = clean_pass(fast, a, a.seed, a.runs, "release build")
        m = clean_pass(exe, a, a.seed + 1, max(1, a.runs // 10), "ASan+UBSan build")
        log("%s: %d runs (release) + %d runs (ASan+UBSan), no finding" % (a.variant or "mainline", n, m))
    else:
        n = clean_pass(exe, a, a.seed, a.runs, "ASan+UBSan build")
        log("%s: %d runs (ASan+UBSan), no finding" % (a.variant or "mainline", n))


# -------------------------------------------------------------------- CLI --

def expect_one_line_error(rc, err, want_rc, what, progress=False):
    lines = oneline(err)
    if progress:  # the launcher's "==> building ..." progress lines are not part of the error
        lines = [l for l in lines if not l.startswith("==> ")]
    if want_rc is None:
        check(rc != 0, "%s: exit 0" % what)
    else:
        check(rc == want_rc, "%s: exit %d, want %d" % (what, rc, want_rc))
    check(rc < 128 and rc >= 0, "%s: died by a signal (exit %d)" % (what, rc))
    check(len(lines) == 1, "%s: want exactly one line on stderr, got %d:\n%s" % (
        what, len(lines), err.strip()[:1000]))
    log("%s: exit %d, %r" % (what, rc, lines[0]))


def cmd_cli_variant(a):
    exe = need_exe(a.exe, "std replayer")
    reg = load_registry(a.lister)
    proto = target_protocol(exe, reg)
    check(proto, "%s: cannot tell its protocol" % a.exe)
    mine = [v for v in reg if v["protocol"] == proto]
    if a.case == "unknown":
        spec = "no_such_variant_xyz"
    elif a.case == "wrong-protocol":
        other = [v for v in reg if v["protocol"] != proto]
        if not other:
            skip("the registry has no variant of a protocol other than %s" % proto)
        spec = other[0]["name"]
    elif a.case == "two-same-role":
        roles = {}
        for v in mine:
            roles.setdefault(v["role"], []).append(v["name"])
        two = [ns for ns in roles.values() if len(ns) >= 2]
        if not two:
            skip("%s has no role with two variants" % proto)
        spec = ",".join(two[0][:2])
    with tempfile.NamedTemporaryFile() as f:
        rc, out, err = run([exe, f.name], env={"PVFUZZ_VARIANT": spec}, timeout=60)
    expect_one_line_error(rc, err, 2, "PVFUZZ_VARIANT=%r" % spec)
    if a.lf_exe and os.path.isfile(a.lf_exe):
        rc, out, err = run([a.lf_exe, "-runs=1"], env={"PVFUZZ_VARIANT": spec}, timeout=60)
        check(rc == 2, "libFuzzer build: PVFUZZ_VARIANT=%r exit %d, want 2" % (spec, rc))
        check(any("PVFUZZ_VARIANT" in l for l in oneline(err)),
              "libFuzzer build: no PVFUZZ_VARIANT message")
        log("libFuzzer build: exit 2 as well")


def cmd_cli_replayer(a):
    exe = need_exe(a.exe, "std replayer")
    cases = {
        "missing-file": [exe, "/nonexistent/pvfuzz-no-such-file"],
        "bad-option": [exe, "--no-such-option", "/dev/null"],
        "no-file": [exe],
        "bad-count": [exe, "--check-determinism", "zero", "/dev/null"],
        "missing-arg": [exe, "--expect"],
    }
    rc, out, err = run(cases[a.case], timeout=60)
    expect_one_line_error(rc, err, None, "replayer %s" % a.case)


def cmd_cli_launcher(a):
    launcher = os.path.join(SRC, "pvfuzz")
    if not os.access(launcher, os.X_OK):
        skip("./pvfuzz (the launcher) does not exist yet")
    tmpf = tempfile.NamedTemporaryFile(prefix="pvfuzz-cli-")
    cases = {
        "unknown-subcommand": ["no-such-subcommand"],
        "unknown-option": ["--no-such-option"],
        "unknown-target": ["replay", tmpf.name, "--target", "no_such_target"],
        "unknown-variant": ["replay", tmpf.name, "--target", "pvclock", "--variant", "no_such_variant"],
        "missing-file": ["replay", "/nonexistent/pvfuzz-no-such-file", "--target", "pvclock"],
    }
    rc, out, err = run([launcher] + cases[a.case], timeout=600)
    tmpf.close()
    # every case is a usage error: exit 2, one line
    expect_one_line_error(rc, err, 2, "./pvfuzz %s" % " ".join(cases[a.case]), progress=True)


# -------------------------------------------------------- launcher, deeper --

LAUNCHER = os.path.join(SRC, "pvfuzz")


def launcher(args, env=None, timeout=900):
    if not os.access(LAUNCHER, os.X_OK):
        skip("./pvfuzz (the launcher) does not exist")
    return run([LAUNCHER] + args, env=env, timeout=timeout)


def dry_plan(out):
    """The rows of ./pvfuzz fuzz --dry-run: (target, spec, label, expect)."""
    rows = [l.split("\t") for l in out.splitlines() if l.count("\t") == 3]
    check(rows and rows[0][0] == "TARGET", "--dry-run printed no plan:\n%s" % out[-1500:])
    return [tuple(r) for r in rows[1:]]


def cmd_launcher_plan(a):
    """What ./pvfuzz fuzz would run, and expect, is what the C registry says:
    the default runs of every target, and every variant named alone."""
    reg = load_registry(a.lister)
    protos = {p["target"]: p["protocol"] for p in c_query(a.lister, ["--protocols"])}
    targets = [t for t in a.targets.split(";") if t]
    check(targets, "no targets given")
    for t in targets:
        check(t in protos, "target %s runs no protocol in the registry's table" % t)
        rc, out, err = launcher(["fuzz", t, "--dry-run"])
        check(rc == 0, "./pvfuzz fuzz %s --dry-run: exit %d: %s" % (t, rc, err.strip()[-500:]))
        want = [(t, r["asked"], r["label"], r["expect"]) for r in c_query(a.lister, ["--runs", protos[t]])]
        check(dry_plan(out) == want, "%s: launcher plan differs from pvfuzz-list --runs:\n%s\nvs\n%s" % (
            t, dry_plan(out), want))
        check(all(r[3] != "unknown" for r in want), "an unknown expectation in %s" % t)
    n = 0
    for v in reg:
        if v["target"] not in targets:
            continue
        rc, out, err = launcher(["fuzz", "--variant", v["name"], "--dry-run"])
        check(rc == 0, "./pvfuzz fuzz --variant %s --dry-run: exit %d: %s" % (v["name"], rc, err.strip()[-500:]))
        sel = c_select(a.lister, v["name"])
        want = [(sel["target"], v["name"], sel["label"], sel["expect"])]
        check(dry_plan(out) == want, "--variant %s: launcher %s, pvfuzz-list %s" % (v["name"], dry_plan(out), want))
        if v["partner"]:
            check(v["partner"] in sel["label"].split("+"), "%s: partner %s not in %s" % (
                v["name"], v["partner"], sel["label"]))
        n += 1
    log("launcher plans agree with pvfuzz-list for %d targets and %d variants" % (len(targets), n))


def cmd_launcher_replay(a):
    """Every committed reproducer of a target replays with exit 0 through the
    README's command, ./pvfuzz replay FILE (expectation from its path)."""
    d = os.path.join(SRC, "corpora", "regress", a.target)
    if not os.path.isdir(d):
        skip("no corpora/regress/%s" % a.target)
    files = []
    for f in sorted(os.listdir(d)):
        p = os.path.join(d, f)
        if f.startswith("."):
            continue
        files += sorted(os.path.join(p, g) for g in os.listdir(p)) if os.path.isdir(p) else [p]
    check(files, "corpora/regress/%s is empty" % a.target)
    bad = []
    for f in files:
        rc, out, err = launcher(["replay", f])
        if rc != 0:
            bad.append("%s: exit %d: %s" % (os.path.relpath(f, SRC), rc,
                                           " / ".join(l for l in oneline(err) if not l.startswith("==>"))[-300:]))
    check(not bad, "%d of %d reproducers fail ./pvfuzz replay:\n%s" % (len(bad), len(files), "\n".join(bad)))
    log("%d reproducers: ./pvfuzz replay FILE exits 0 for each" % len(files))


def crash_files(d):
    out = []
    for root, _, fs in os.walk(d):
        out += [os.path.join(root, f) for f in fs]
    return out


def cmd_launcher_signal(a):
    """SIGINT/SIGTERM at the moment libFuzzer writes a crash, and at other
    moments, to the launcher alone or to its whole process group: every crash
    libFuzzer wrote ends up in findings/ (or its kept path is printed), and an
    interrupted run says so."""
    import glob
    import signal
    import time
    sig = getattr(signal, "SIG" + a.signal)
    rnd = random.Random(a.seed)
    lost, interrupted, tries = [], 0, 0
    root = tempfile.mkdtemp(prefix="pvfuzz-sig-")
    try:
        for k in range(a.tries + a.tries // 2):
            at_crash = k < a.tries
            variant = a.variant if at_crash else a.slow_variant
            T = os.path.join(root, "t%d" % k)
            os.makedirs(T)
            F = os.path.join(T, "findings")
            e = dict(os.environ, TMPDIR=T)
            e.pop("PVFUZZ_VARIANT", None)
            p = subprocess.Popen([LAUNCHER, "fuzz", a.target, "--variant", variant, "--time", "60",
                                  "--jobs", "1", "--findings", F], env=e, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            seen = set()
            t0 = time.time()
            delay = rnd.uniform(0.0, 1.5)
            started = None
            while time.time() - t0 < 120:
                got = glob.glob(os.path.join(T, "pvfuzz.*", "run0", "art", "crash-*"))
                seen.update(os.path.basename(g) for g in got)
                if at_crash and got:
                    break
                if not at_crash:  # a moment within the run, once the fuzzer is going
                    logs = glob.glob(os.path.join(T, "pvfuzz.*", "run0", "log"))
                    if logs and started is None:
                        started = time.time()
                    if started is not None and time.time() - started >= delay:
                        break
                if p.poll() is not None:
                    break
                time.sleep(0.002)
            if k % 2:
                os.killpg(p.pid, sig)
            else:
                os.kill(p.pid, sig)
            out = p.communicate(timeout=300)[0].decode("utf-8", "replace")
            tries += 1
            saved = {os.path.basename(f) for f in crash_files(F)}
            check(not any(n.startswith(".tmp") for n in saved), "try %d: a temporary file was left in "
                  "findings/: %s" % (k, sorted(saved)))
            for c in seen:
                if c in saved:
                    continue
                kept = [l for l in out.splitlines() if "the crash stays at" in l and c in l]
                if kept and os.path.isfile(kept[0].rsplit(" ", 1)[-1]):
                    continue
                lost.append("try %d (%s, %s): %s\n%s" % (k, "at the crash" if at_crash else "mid-run",
                                                         "group" if k % 2 else "launcher", c, out[-800:]))
            if p.returncode in (130, 143):
                interrupted += 1
                check("interrupted" in out or "could not be saved" in out,
                      "try %d: exit %d without saying the run was interrupted:\n%s" % (
                          k, p.returncode, out[-800:]))
            else:
                check(p.returncode in (0, 1), "try %d: exit %d:\n%s" % (k, p.returncode, out[-800:]))
                check("missed" not in out or "interrupted" in out, "try %d: an interrupted run "
                      "reported as a miss:\n%s" % (k, out[-800:]))
            shutil.rmtree(T, ignore_errors=True)
        check(not lost, "%d finding(s) lost:\n%s" % (len(lost), "\n".join(lost)[:4000]))
        check(interrupted >= a.tries // 2, "only %d of %d tries saw the signal as an interruption" % (
            interrupted, tries))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    log("SIG%s: %d tries (%d at the moment a crash appeared, %d mid-run), 0 findings lost, %d "
        "reported as interrupted" % (a.signal, tries, a.tries, tries - a.tries, interrupted))


def cmd_launcher_savefail(a):
    """A findings directory that is read-only or full: one line naming the
    path and the OS error, the crash kept where libFuzzer wrote it (and that
    path printed), no temporary file left, exit 1."""
    mnt = tempfile.mkdtemp(prefix="pvfuzz-savefail-")
    opts = "ro,size=64k" if a.case == "readonly" else "size=64k"
    rc, out, err = run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", mnt], timeout=30)
    if rc != 0:
        os.rmdir(mnt)
        skip("cannot mount a small tmpfs (%s): needs root with CAP_SYS_ADMIN" % err.strip())
    T = tempfile.mkdtemp(prefix="pvfuzz-savefail-tmp-")
    try:
        want = "Read-only file system"
        if a.case == "full":
            want = "No space left on device"
            os.makedirs(os.path.join(mnt, a.target))
            try:
                with open(os.path.join(mnt, "fill"), "wb") as f:
                    while True:
                        f.write(b"\0" * 4096)
                        f.flush()
            except OSError:
                pass  # full
        rc, out, err = launcher(["fuzz", a.target, "--variant", a.variant, "--time", "30", "--jobs", "1",
                                 "--findings", mnt], env={"TMPDIR": T})
        lines = [l for l in err.splitlines() if "cannot save a finding" in l]
        check(lines, "no 'cannot save' line:\n%s" % (out + err)[-1500:])
        check(want in lines[0] and mnt in lines[0], "the line names neither %r nor the path: %s" % (
            want, lines[0]))
        kept = lines[0].rsplit(" ", 1)[-1]
        check(os.path.isfile(kept), "the crash is not where the line says: %s" % kept)
        check(rc == 1, "exit %d, want 1" % rc)
        left = [f for f in crash_files(mnt) if ".tmp" in os.path.basename(f)]
        check(not left, "temporary files left: %s" % left)
        check(any("kept" in l and T in l for l in err.splitlines()), "the kept directory is not named")
        log("%s findings/: %r, crash kept at %s, exit 1" % (a.case, lines[0][:120], kept))
    finally:
        run(["umount", mnt], timeout=30)
        os.rmdir(mnt)
        shutil.rmtree(T, ignore_errors=True)


def cmd_launcher_env(a):
    """Environment values the launcher reads are checked by name: exit 2, one line."""
    bad = {"build-jobs": ({"PVFUZZ_BUILD_JOBS": "abc"}, "PVFUZZ_BUILD_JOBS", ["list"]),
           "tmpdir": ({"TMPDIR": "/nonexistent/pvfuzz"}, "TMPDIR", ["list"]),
           "variant-comma": ({"PVFUZZ_VARIANT": ","}, "PVFUZZ_VARIANT", ["fuzz", "--dry-run"]),
           "variant-unknown": ({"PVFUZZ_VARIANT": "no_such_variant"}, "PVFUZZ_VARIANT",
                               ["fuzz", "--dry-run"]),
           "findings-empty": ({"PVFUZZ_FINDINGS": ""}, "PVFUZZ_FINDINGS", ["fuzz", "--dry-run"])}
    env, name, args = bad[a.case]
    e = dict(env)
    rc, out, err = run([LAUNCHER] + args, env=e, timeout=600)
    if "PVFUZZ_VARIANT" in env:  # run() strips it from the caller's environment; set it here
        p = subprocess.run([LAUNCHER] + args, env=dict(os.environ, **env), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        rc, err = p.returncode, p.stderr.decode("utf-8", "replace")
    expect_one_line_error(rc, err, 2, "%s ./pvfuzz %s" % (env, " ".join(args)), progress=True)
    check(name in err, "the error does not name %s: %s" % (name, err.strip()))


def cmd_launcher_byo(a):
    """Bring your own reader, as the README shows: fuzz plan, replay and
    stress accept --reader-file F with --variant naming F's own variant."""
    f = os.path.join(SRC, "examples", "my_pvclock_reader.c")
    seed = os.path.join(SRC, "corpora", "regress", "pvclock", "pvclock_reader_odd_version")
    rc, out, err = launcher(["fuzz", "pvclock", "--reader-file", f, "--variant", "my_pvclock_reader",
                             "--dry-run"], timeout=1200)
    check(rc == 0, "fuzz --reader-file F --variant its-name --dry-run: exit %d: %s" % (rc, err.strip()[-800:]))
    plan = dry_plan(out)
    check(len(plan) == 1 and "my_pvclock_reader" in plan[0][2].split("+"), "plan: %s" % plan)
    rc, out, err = launcher(["replay", seed, "--target", "pvclock", "--reader-file", f,
                             "--variant", "my_pvclock_reader"], timeout=1200)
    check(rc in (0, 1) and "my_pvclock_reader" in err, "replay: exit %d: %s" % (rc, err.strip()[-800:]))
    rc, out, err = launcher(["stress", "pvclock", "--sanitizer", "none", "--reader-file", f,
                             "--variant", "my_pvclock_reader", "--duration", "2"], timeout=1200)
    check(rc in (0, 1) and "two reader variants" not in err, "stress: exit %d: %s" % (
        rc, (err or out).strip()[-800:]))
    log("fuzz/replay/stress with --reader-file %s --variant my_pvclock_reader: accepted" %
        os.path.relpath(f, SRC))


# ------------------------------------------------------------ bench tools --

def cmd_mutate_selftest(a):
    """bench/mutate.py on a known-killed, an equivalent and a stale mutant of
    the clock catalogue, with the cheap stages only: the tool itself works."""
    tool = os.path.join(SRC, "bench", "mutate.py")
    with open(os.path.join(SRC, "bench", "mutants", "clock.json")) as f:
        cat = json.load(f)
    byid = {m["id"]: m for m in cat["mutants"]}
    check(a.killed in byid and a.equivalent in byid, "bench/mutants/clock.json has no %s or %s" % (
        a.killed, a.equivalent))
    check(byid[a.equivalent].get("equivalent"), "%s is not marked equivalent" % a.equivalent)
    stale = dict(byid[a.killed], id="selftest-stale", anchor="no_such_statement_in_pvfuzz();")
    tmp = tempfile.mkdtemp(prefix="pvfuzz-mutate-selftest-")
    try:
        cdir = os.path.join(tmp, "cat")
        os.makedirs(cdir)
        with open(os.path.join(cdir, "clock.json"), "w") as f:
            json.dump(dict(cat, mutants=[byid[a.killed], byid[a.equivalent], stale]), f)
        out = os.path.join(tmp, "out.json")
        rc, so, se = run([sys.executable or "python3", tool, "--area", "clock", "--catalogue-dir", cdir,
                          "--stages", "replay", "--workdir", os.path.join(tmp, "w"),
                          "--json", out], timeout=1200)
        check(rc == 0, "bench/mutate.py exited %d:\n%s" % (rc, (se or so).strip()[-2000:]))
        with open(out) as f:
            res = {r["id"]: r for r in json.load(f)["results"]}
        k, e, st = res.get(a.killed), res.get(a.equivalent), res.get("selftest-stale")
        check(k and k["status"] == "killed" and k.get("test"), "%s: want killed by a named test, got %s" % (
            a.killed, k))
        check(e and e["status"] == "equivalent", "%s: want equivalent (survived), got %s" % (a.equivalent, e))
        check(st and st["status"] == "stale" and "occurs 0 times" in st.get("why", ""),
              "a mutant whose anchor is gone: want stale with the reason, got %s" % st)
        log("%s killed in %s by %s (%s); %s survived as equivalent; the stale mutant is reported" % (
            a.killed, k["stage"], k["test"], k["why"][:120], a.equivalent))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------- stress --

def cmd_stress(a):
    """pvfuzz-stress PROTOCOL [--duration S] [--variant NAME] [EXTRA...]: exit 0
    clean, 1 an oracle fired (with a SUMMARY line), 2 bad usage.  In the ASan
    build (--asan) ASan's own report of the same bug counts as caught."""
    exe = need_exe(a.stress_exe, "native stress runner (%s build)" % ("ASan" if a.asan else "TSan"))
    reg = load_registry(a.lister)
    proto = a.protocol
    extra = a.extra.split() if a.extra else []
    env = {"TSAN_OPTIONS": san_options("tsan")}
    if a.case == "clean":
        rc, out, err = run([exe, proto, "--duration", str(a.seconds)] + extra, env=env,
                           timeout=a.seconds * 10 + 120)
        check("ERROR: AddressSanitizer" not in out + err, "ASan report:\n" + (out + err)[-3000:])
        check("WARNING: ThreadSanitizer" not in out + err, "TSan report:\n" + (out + err)[-3000:])
        check(not SUMMARY_RE.search(out + err), "mainline %s: %s" % (
            proto, SUMMARY_RE.search(out + err).group(0) if SUMMARY_RE.search(out + err) else ""))
        check(rc == 0, "mainline %s stress exited %d:\n%s" % (proto, rc, (err or out)[-2000:]))
        log("mainline %s: %ds under TSan, exit 0, no TSan warning" % (proto, a.seconds))
    else:
        v = by_name(reg).get(a.variant)
        check(v and expect_of(v), "no buggy variant %s" % a.variant)
        args = extra if extra else ["--variant", a.variant]
        rc, out, err = run([exe, proto, "--duration", str(a.seconds)] + args, env=env,
                           timeout=a.seconds * 10 + 120)
        sm = SUMMARY_RE.findall(out + err)
        if a.asan and "ERROR: AddressSanitizer: heap-use-after-free" in out + err:
            check(rc != 0, "%s: ASan reported but the run exited 0" % a.variant)
            log("%s caught natively under ASan: heap-use-after-free" % a.variant)
            return
        check(rc == 1, "%s: stress exited %d, want 1 (an oracle fired) within %ds:\n%s" % (
            a.variant, rc, a.seconds, (err or out)[-1500:]))
        exp = selection_expect(a.lister, a.variant) or []
        check(sm and sm[0] in exp, "%s: SUMMARY %s, registry expects %s" % (
            a.variant, sm[:1], "|".join(exp)))
        check("WARNING: ThreadSanitizer" not in out + err, "TSan report:\n" + (out + err)[-3000:])
        log("%s caught natively under TSan: %s" % (a.variant, sm[0]))


# -------------------------------------------------------------- real world --
# The real-kernel checkers (stress/realworld/) and the stress-ng plugin.
# Which injected bug trips which oracle is read from the checkers
# themselves (pvfuzz-check-inject --injections), never written here.

CHECK_SUMMARY_RE = re.compile(r"^SUMMARY: pvfuzz: ([A-Za-z0-9_]+) variant=check-", re.M)
# what a clean run must show it did: a run that did nothing tests nothing
CHECK_WORK = {
    "vdso": ("reads", "migrations", "cross-cpu-pairs", "sandwiches", "relations", "getcpu-checks"),
    "perf": ("reads", "plausibility-checks"),
    "tlb": ("revocations", "writer-faults", "dontneeds", "pmd-range-remaps"),
}


def check_exe_path(build_dir, name):
    return os.path.join(build_dir, "stress", "realworld", name) if build_dir else ""


def check_injections(inject_exe):
    rc, out, err = run([inject_exe, "--injections"], timeout=60)
    check(rc == 0, "%s --injections exited %d: %s" % (inject_exe, rc, err.strip()))
    rows = [l.split() for l in out.splitlines() if l.strip()]
    check(rows and all(len(r) == 3 for r in rows), "%s --injections: odd output %r" % (inject_exe, out[:200]))
    return rows


def check_counts(out, checker):
    """The counters a pvfuzz-check run printed for one checker: {name: value}."""
    lines = out.splitlines()
    for i, l in enumerate(lines):
        if l.startswith("==pvfuzz-check== %s: " % checker) and " after " in l and i + 1 < len(lines):
            return {m.group(1): int(m.group(2)) for m in re.finditer(r"([A-Za-z_-]+) (\d+)", lines[i + 1])}
    return None


def check_skipped(out, checker):
    m = re.search(r"^==pvfuzz-check== %s: SKIPPED: (.*)$" % re.escape(checker), out, re.M)
    return m.group(1) if m else None


def finding_files(d):
    got = []
    for root, _, files in os.walk(d):
        got += [os.path.join(root, f) for f in files]
    return sorted(got)


def expect_clean_work(out, checker):
    c = check_counts(out, checker)
    check(c is not None, "no counters printed for %s:\n%s" % (checker, out[-2000:]))
    idle = [k for k in CHECK_WORK[checker] if not c.get(k)]
    check(not idle, "%s: a clean run that did not work: %s are 0 (%s)" % (checker, ", ".join(idle), c))
    if checker == "tlb":
        walks = sum(c.get(k, 0) for k in ("vmsplice-pages", "odirect-pages", "process_vm_readv-pages"))
        check(walks > 0, "tlb: no GUP walker got a single page (%s)" % c)
    return c


def cmd_check(a):
    """pvfuzz-check against the running kernel: clean runs do work and find
    nothing; each test-only injected bug trips its oracle and is saved."""
    tmp = tempfile.mkdtemp(prefix="pvfuzz-check-")
    try:
        if a.case == "clean":
            exe = need_exe(a.check_exe, "pvfuzz-check")
            rc, out, err = run([exe, a.checker, "--duration", str(a.seconds), "--findings", tmp],
                               timeout=a.seconds * 10 + 120)
            why = check_skipped(out, a.checker)
            if why:
                check(rc == 0, "a skip must exit 0, got %d" % rc)
                skip("%s checker: %s" % (a.checker, why))
            check(not CHECK_SUMMARY_RE.search(err), "finding on this kernel (a real one, or a false "
                  "alarm to fix):\n%s" % err[-3000:])
            check("ThreadSanitizer" not in err and "AddressSanitizer" not in err, "sanitizer:\n" + err[-3000:])
            check(rc == 0, "%s exited %d:\n%s" % (a.checker, rc, (err or out)[-2000:]))
            check(not finding_files(tmp), "clean run left files: %s" % finding_files(tmp))
            c = expect_clean_work(out, a.checker)
            log("%s: clean after %ds: %s" % (a.checker, a.seconds, ", ".join("%s %d" % kv for kv in c.items())))
        elif a.case == "inject":
            exe = need_exe(a.check_exe, "pvfuzz-check-inject")
            rows = {r[1]: r for r in check_injections(exe)}
            check(a.inject in rows, "no injection %s in %s --injections" % (a.inject, exe))
            checker, _, oracle = rows[a.inject]
            rc, out, err = run([exe, checker, "--inject", a.inject, "--duration", str(a.seconds),
                                "--findings", tmp], timeout=a.seconds * 10 + 120)
            why = check_skipped(out, checker)
            if why:
                skip("%s checker: %s" % (checker, why))
            sm = CHECK_SUMMARY_RE.findall(err)
            if oracle == "none":
                check(rc == 0 and not sm, "%s (a correct page) fired %s, exit %d:\n%s" % (
                    a.inject, sm[:1], rc, err[-2000:]))
                c = expect_clean_work(out, checker)
                log("%s: clean, %s" % (a.inject, c))
                return
            check(rc == 1, "%s: exit %d, want 1 (a finding) within %ds:\n%s" % (
                a.inject, rc, a.seconds, (err or out)[-2000:]))
            check(sm and sm[0] in oracle.split("|"), "%s: first oracle %s, expected %s" % (a.inject, sm[:1], oracle))
            files = finding_files(tmp)
            check(files, "%s: no finding file under %s" % (a.inject, tmp))
            check(not [f for f in files if os.path.basename(f).startswith(".tmp.")],
                  "temporary files left: %s" % files)
            check(all(os.path.dirname(f) == os.path.join(tmp, checker) for f in files),
                  "findings outside %s/%s: %s" % (tmp, checker, files))
            first = [f for f in files if os.path.basename(f).startswith(sm[0] + "-")]
            check(first, "no finding file named after %s: %s" % (sm[0], files))
            with open(first[0]) as f:
                text = f.read()
            check(text.startswith("SUMMARY: pvfuzz: %s variant=check-%s" % (sm[0], checker)) and
                  "evidence:" in text and "kernel:" in text, "finding file lacks its parts:\n" + text[:1000])
            log("%s -> %s (expected %s), %d finding file(s), e.g. %s" % (a.inject, sm[0], oracle, len(files),
                                                                       os.path.basename(files[0])))
        elif a.case == "fallback":
            # the findings directory cannot be created: the finding goes to $TMPDIR/pvfuzz-findings
            exe = need_exe(a.check_exe, "pvfuzz-check-inject")
            rc, out, err = run([exe, "vdso", "--inject", "vdso_sandwich", "--duration", "10",
                                "--findings", "/dev/null/no-such-dir"], env={"TMPDIR": tmp}, timeout=300)
            if check_skipped(out, "vdso"):
                skip("vdso checker: %s" % check_skipped(out, "vdso"))
            check(rc == 1, "exit %d, want 1:\n%s" % (rc, err[-1500:]))
            check("cannot create /dev/null/no-such-dir" in err and "fallback directory" in err,
                  "no word of the fallback:\n" + err[-1500:])
            files = finding_files(os.path.join(tmp, "pvfuzz-findings"))
            check(files, "no finding in $TMPDIR/pvfuzz-findings")
            log("unwritable --findings: finding saved in the fallback directory (%s)" % os.path.basename(files[0]))
        elif a.case == "perturb":
            # one test, one after the other: both change the machine's clock frequency
            cmd_check_perturb(a, tmp, "run")
            cmd_check_perturb(a, tmp, "signal")
        elif a.case == "wall-step":
            cmd_check_wall_step(a, tmp)
        elif a.case == "complete":
            # a writer killed between write and rename: a whole temporary file is kept
            exe = need_exe(a.check_exe, "pvfuzz-check")
            d = os.path.join(tmp, "run", "vdso")
            os.makedirs(d)
            whole = "SUMMARY: pvfuzz: monotonic variant=check-vdso test\nevidence:\n-- end of finding --\n"
            for name, text in ((".tmp.monotonic-1", whole), (".tmp.sandwich-2", whole[:30]), ("getcpu-3", whole)):
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
            rc, out, err = run([exe, "findings", os.path.join(tmp, "run")], timeout=60)
            check(rc == 1, "exit %d, want 1 (findings)" % rc)
            check(os.path.exists(os.path.join(d, "monotonic-1")) and not os.path.exists(os.path.join(d, ".tmp.monotonic-1")),
                  "the whole temporary file was not renamed: %s" % os.listdir(d))
            check("cut short" in out and ".tmp.sandwich-2" in out and "3 finding(s)" in out, out)
            rc, out, err = run([exe, "findings", os.path.join(tmp, "nothing")], timeout=60)
            check(rc == 0 and "no finding" in out, "an absent directory: exit %d %s" % (rc, out))
            log("findings DIR: a whole temporary file renamed, a cut-short one listed, exit 1")
        elif a.case == "docs":
            # docs/real-world.md names every injection and every job file there is
            exe = need_exe(a.check_exe, "pvfuzz-check-inject")
            with open(os.path.join(SRC, "docs", "real-world.md")) as f:
                doc = f.read()
            names = [r[1] for r in check_injections(exe)]
            names += sorted(j for j in os.listdir(os.path.join(SRC, "stress", "jobs")) if j.endswith(".job"))
            missing = [n for n in names if "`%s`" % n not in doc]
            check(not missing, "docs/real-world.md does not mention: %s" % ", ".join(missing))
            log("docs/real-world.md names all %d injections and job files" % len(names))
        elif a.case == "one-cpu":
            # pinned to one CPU, the cross-CPU checkers say why and skip; exit 0
            exe = need_exe(a.check_exe, "pvfuzz-check")
            cpu = sorted(os.sched_getaffinity(0))[0]
            p = subprocess.run([exe, "vdso", "tlb", "--duration", "1", "--findings", tmp],
                               preexec_fn=lambda: os.sched_setaffinity(0, {cpu}), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
            out = p.stdout.decode()
            for ch in ("vdso", "tlb"):
                why = check_skipped(out, ch)
                check(why and "only 1 CPU usable" in why, "%s on one CPU: %s\n%s" % (ch, why, out[-1000:]))
            check(p.returncode == 0, "exit %d on one CPU, want 0 (a skip is not a failure)" % p.returncode)
            log("one CPU: vdso and tlb skipped with their reason, exit 0")
        elif a.case == "cli":
            exe = need_exe(a.check_exe, "pvfuzz-check")
            for args in (["nosuch"], ["vdso", "--duration", "0"], ["vdso", "--threads", "0"],
                         ["vdso", "--bogus"], ["vdso", "--duration"], ["--inject", "vdso_backstep"],
                         ["counts"], ["counts", "/dev/null/x"]):
                rc, out, err = run([exe] + args, timeout=60)
                expect_one_line_error(rc, err, 2, "pvfuzz-check %s" % " ".join(args))
            log("bad usage: one line on stderr, exit 2 (8 cases; --inject exists only in the test build)")
        else:
            raise Fail("unknown case %s" % a.case)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def adjtimex_freq():
    """The kernel clock's frequency offset (struct timex.freq), read-only."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(512)   # struct timex, modes = 0 (read)
    if libc.adjtimex(buf) < 0:
        return None
    return int.from_bytes(buf.raw[16:24], "little", signed=True)


def cmd_check_perturb(a, tmp, how):
    import signal
    import time
    exe = need_exe(a.check_exe, "pvfuzz-check")
    if os.geteuid() != 0:
        skip("clock_adjtime ADJ_FREQUENCY needs CAP_SYS_TIME: not root")
    f0 = adjtimex_freq()
    check(f0 is not None, "adjtimex failed")
    cmd = [exe, "vdso", "--perturb", "--findings", tmp]
    if how == "run":
        rc, out, err = run(cmd + ["--duration", str(a.seconds)], timeout=a.seconds * 10 + 120)
    else:
        # SIGTERM mid-run: the summary still comes, and the clock is restored
        e = dict(os.environ)
        p = subprocess.Popen(cmd + ["--duration", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        time.sleep(a.seconds)
        p.send_signal(signal.SIGTERM)
        try:
            o, r = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Fail("pvfuzz-check did not stop within 60 s of SIGTERM")
        rc, out, err = p.returncode, o.decode(), r.decode()
        check("(interrupted)" in out, "no interrupted summary:\n" + out[-1500:])
    if check_skipped(out, "vdso"):
        skip("vdso checker: %s" % check_skipped(out, "vdso"))
    f1 = adjtimex_freq()
    check(f1 == f0, "the clock frequency offset was %s before and is %s after: not restored" % (f0, f1))
    check(rc == 0 and not CHECK_SUMMARY_RE.search(err), "exit %d:\n%s" % (rc, err[-2000:]))
    c = expect_clean_work(out, "vdso")
    check(c.get("freq-adjustments", 0) > 0, "no frequency adjustment was made (%s)" % c)
    log("vdso under clock_adjtime perturbation (%s): clean, %d adjustments, frequency offset %d restored" % (
        "SIGTERM after %ds" % a.seconds if how == "signal" else "%ds" % a.seconds,
        c["freq-adjustments"], f0))


def cmd_check_wall_step(a, tmp):
    """CLOCK_REALTIME stepped back 50 us and forward again, 10 times a second,
    while the vDSO checker reads: the steps must be excused (the timerfd says
    the clock was set), never reported.  Net change to the machine's clock: 0."""
    import ctypes
    import threading
    import time
    exe = need_exe(a.check_exe, "pvfuzz-check")
    if os.geteuid() != 0:
        skip("clock_settime(CLOCK_REALTIME) needs CAP_SYS_TIME: not root")

    class Timespec(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
    libc = ctypes.CDLL(None, use_errno=True)

    def step(ns):
        t = Timespec()
        libc.clock_gettime(0, ctypes.byref(t))
        v = t.tv_sec * 10**9 + t.tv_nsec + ns
        t.tv_sec, t.tv_nsec = divmod(v, 10**9)
        return libc.clock_settime(0, ctypes.byref(t)) == 0

    done = threading.Event()
    steps = [0]

    def stepper():
        while not done.is_set():
            if not step(-50000):
                return
            steps[0] += 1
            time.sleep(0.05)
            step(50000)
            time.sleep(0.05)

    th = threading.Thread(target=stepper)
    th.start()
    try:
        rc, out, err = run([exe, "vdso", "--duration", str(a.seconds), "--findings", tmp],
                           timeout=a.seconds * 10 + 120)
    finally:
        done.set()
        th.join()
    if check_skipped(out, "vdso"):
        skip("vdso checker: %s" % check_skipped(out, "vdso"))
    check(steps[0] > 0, "clock_settime failed: %s" % os.strerror(ctypes.get_errno()))
    check(rc == 0 and not CHECK_SUMMARY_RE.search(err), "a clock step was reported (exit %d):\n%s" % (
        rc, err[-2000:]))
    c = expect_clean_work(out, "vdso")
    check(c.get("wall-steps-excused", 0) > 0, "%d steps back, none seen and excused (%s)" % (steps[0], c))
    log("%d CLOCK_REALTIME steps of -50 us: %d excused backwards reads, no finding" % (
        steps[0], c["wall-steps-excused"]))


def cmd_stressng(a):
    """./pvfuzz stress-ng with Debian's stress-ng and the plugin."""
    if not shutil.which("stress-ng"):
        skip("stress-ng is not installed (apt-get install stress-ng)")
    so = need_exe(a.plugin, "libpvfuzz-stressng.so") if a.case != "inject" else ""
    tmp = tempfile.mkdtemp(prefix="pvfuzz-stressng-")
    launcher = os.path.join(SRC, "pvfuzz")
    jobs = os.path.join(SRC, "stress", "jobs")
    try:
        if a.case == "clean":
            rc, out, err = run([launcher, "stress-ng", os.path.join(jobs, "pvfuzz.job"), "-t", str(a.seconds)],
                               env={"PVFUZZ_FINDINGS": tmp}, timeout=a.seconds * 10 + 300)
            check(rc == 0, "exit %d:\n%s\n%s" % (rc, out[-2000:], err[-2000:]))
            check("pvfuzz: no finding; stress-ng exit 0" in out, "no verdict line:\n" + out[-2000:])
            for ch in ("vdso", "tlb"):
                m = re.search(r"^pvfuzz plugin %s: (\d+) calls" % ch, out, re.M)
                check(m and int(m.group(1)) > 0, "no %s rounds ran in the plugin:\n%s" % (ch, out[-2000:]))
            check(re.search(r"^pvfuzz plugin perf: (skipped: .+|\d+ calls)", out, re.M),
                  "perf neither ran nor said why not:\n" + out[-2000:])
            for s in ("clock", "vdso", "tlb-shootdown", "timer"):
                check(re.search(r"dispatching hogs:.*\b\d+ %s\b" % re.escape(s), err),
                      "stress-ng did not run its %s stressor beside the plugin:\n%s" % (s, err[-1500:]))
            check(not finding_files(tmp), "findings: %s" % finding_files(tmp))
            log("stress-ng %ds with the plugin beside clock, vdso, tlb-shootdown, timer: clean\n%s" % (
                a.seconds, "\n".join(l for l in out.splitlines() if l.startswith("pvfuzz plugin"))))
        elif a.case == "inject":
            so = need_exe(a.plugin, "libpvfuzz-stressng-inject.so")
            inj = need_exe(a.check_exe, "pvfuzz-check-inject")
            rows = {r[1]: r for r in check_injections(inj)}
            checker, _, oracle = rows[a.inject]
            check(checker == "vdso", "the plugin injection test runs vdso injections (pvfuzz.job starts there)")
            # pvfuzz.job: every plugin process starts with a vdso round (vdso.job's hrtimers
            # storm can starve a short run on a nested guest)
            rc, out, err = run([launcher, "stress-ng", os.path.join(jobs, "pvfuzz.job"), "-t", str(a.seconds)],
                               env={"PVFUZZ_FINDINGS": tmp, "PVFUZZ_STRESSNG_PLUGIN": so, "PVFUZZ_INJECT": a.inject},
                               timeout=a.seconds * 10 + 300)
            check(rc == 1, "exit %d, want 1 (a finding):\n%s\n%s" % (rc, out[-2000:], err[-2000:]))
            check(re.search(r"^pvfuzz: FAIL (%s) checker=%s finding=\S+" % (oracle, checker), err, re.M),
                  "no greppable FAIL line:\n" + err[-2000:])
            files = [f for f in finding_files(tmp) if not os.path.basename(f).startswith(".tmp.")]
            check(files, "no finding file under %s" % tmp)
            check("finding(s) under" in out and os.path.basename(files[0]) in out, "findings not listed:\n" + out[-2000:])
            log("test-only %s in the plugin: %d finding(s) reported, exit 1" % (a.inject, len(files)))
        elif a.case == "signal":
            # SIGTERM to the launcher mid-run, after the plugin saved a finding: stress-ng
            # is stopped and waited for, and the finding is still reported (exit 1)
            import signal
            import time
            so = need_exe(a.plugin, "libpvfuzz-stressng-inject.so")
            env = dict(os.environ, PVFUZZ_FINDINGS=tmp, PVFUZZ_STRESSNG_PLUGIN=so, PVFUZZ_INJECT="vdso_backstep")
            p = subprocess.Popen([launcher, "stress-ng", "pvfuzz.job", "-t", "300"], env=env,
                                 stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            t0 = time.time()
            while not finding_files(tmp) and time.time() - t0 < 120 and p.poll() is None:
                time.sleep(0.2)
            got = bool(finding_files(tmp))
            p.send_signal(signal.SIGTERM)
            try:
                o, e = p.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
                raise Fail("the launcher did not end within 120 s of SIGTERM")
            out = o.decode()
            check(got, "no finding within 120 s:\n%s" % e.decode()[-1500:])
            check(p.returncode == 1, "exit %d after SIGTERM with a finding, want 1" % p.returncode)
            # (the plugin's counts may be empty: calls killed mid-flight add none)
            check("finding(s) under" in out, "no report after SIGTERM:\n%s\n%s" % (
                out[-1500:], e.decode()[-1500:]))
            log("SIGTERM after a plugin finding: stress-ng stopped, the finding listed, exit 1 (%.1f s)" % (
                time.time() - t0))
        elif a.case == "fail-hard":
            inj_so = need_exe(a.plugin, "libpvfuzz-stressng-inject.so")
            rc, out, err = run(["stress-ng", "--plugin", "1", "--plugin-so", os.path.abspath(inj_so),
                                "--plugin-method", "tlb", "-t", str(a.seconds)],
                               env={"PVFUZZ_FINDINGS": tmp, "PVFUZZ_INJECT": "tlb_no_revoke",
                                    "PVFUZZ_FAIL_HARD": "1"}, timeout=a.seconds * 10 + 120)
            check(rc == 2, "stress-ng exit %d, want 2 (its failed-run status):\n%s" % (rc, err[-2000:]))
            check(finding_files(tmp), "no finding file")
            log("PVFUZZ_FAIL_HARD=1: stress-ng itself exits 2 on a finding")
        elif a.case == "jobs":
            names = sorted(f for f in os.listdir(jobs) if f.endswith(".job"))
            check("pathological.job" in names and "pvfuzz.job" in names, "stress/jobs: %s" % names)
            for j in names:
                rc, out, err = run(["stress-ng", "--plugin-so", os.path.abspath(so), "--job", os.path.join(jobs, j),
                                    "--dry-run", "-t", "1"], timeout=120)
                check(rc == 0, "%s: stress-ng --dry-run exit %d: %s" % (j, rc, err[-1000:]))
                online = re.search(r"dispatching hogs:.*\bcpu-online\b", err)
                check(bool(online) == (j == "pathological.job"),
                      "%s: cpu-online %s (only the pathological job may run it)" % (j, "dispatched" if online else "absent"))
                check(re.search(r"dispatching hogs:.*\bplugin\b", err), "%s: no plugin stressor" % j)
            log("%d job files parse; only pathological.job dispatches cpu-online (dry run)" % len(names))
        else:
            raise Fail("unknown case %s" % a.case)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def realworld_tests(add, add_skip, a):
    """The checker and plugin tests (discover), ~2 minutes of wall time in all."""
    std = check_exe_path(a.std_dir, "pvfuzz-check")
    inj = check_exe_path(a.std_dir, "pvfuzz-check-inject")
    so = check_exe_path(a.std_dir, "libpvfuzz-stressng.so")
    inj_so = check_exe_path(a.std_dir, "libpvfuzz-stressng-inject.so")
    lab = ["realworld"]
    for ch, secs in (("vdso", 5), ("perf", 3), ("tlb", 5)):
        add("check.std.clean.%s" % ch, ["check", "--case", "clean", "--checker", ch, "--check-exe", std,
                                        "--seconds", str(secs)], lab, 300, 5)
    if os.path.isfile(inj):
        try:
            rows = check_injections(inj)
        except Fail as ex:
            add_skip("check.std.inject", "cannot list the injections: %s" % ex, lab)
            rows = []
        for checker, name, oracle in rows:
            # a bug: up to 10 s to show (well under 1 s here); a correct page: 3 s clean
            add("check.std.inject.%s" % name, ["check", "--case", "inject", "--inject", name, "--check-exe", inj,
                                                "--seconds", "3" if oracle == "none" else "10"], lab, 300, 2)
    else:
        add_skip("check.std.inject", "%s is not built" % inj, lab)
    add("check.std.perturb", ["check", "--case", "perturb", "--check-exe", std, "--seconds", "3"], lab, 300, 3)
    add("check.std.wall-step", ["check", "--case", "wall-step", "--check-exe", std, "--seconds", "3"], lab, 300, 3)
    add("check.std.fallback", ["check", "--case", "fallback", "--check-exe", inj], lab, 300)
    add("check.std.cli", ["check", "--case", "cli", "--check-exe", std], lab + ["cli"], 120)
    add("check.std.docs", ["check", "--case", "docs", "--check-exe", inj], lab, 120)
    add("check.std.complete", ["check", "--case", "complete", "--check-exe", std], lab, 120)
    add("check.std.one-cpu", ["check", "--case", "one-cpu", "--check-exe", std], lab, 120)
    for san, d in (("tsan", a.tsan_dir), ("asan", a.asan_dir)):
        for ch in ("vdso", "tlb"):
            add("check.%s.clean.%s" % (san, ch), ["check", "--case", "clean", "--checker", ch, "--check-exe",
                check_exe_path(d, "pvfuzz-check"), "--seconds", "3"], lab, 300, 3)
        add("check.%s.inject.perf_synthetic" % san, ["check", "--case", "inject", "--inject", "perf_synthetic",
            "--check-exe", check_exe_path(d, "pvfuzz-check-inject"), "--seconds", "3"], lab, 300, 3)
    add("stressng.clean", ["stressng", "--case", "clean", "--plugin", so, "--seconds", "8"], lab, 600, 5)
    add("stressng.inject.vdso_backstep", ["stressng", "--case", "inject", "--inject", "vdso_backstep",
        "--plugin", inj_so, "--check-exe", inj, "--seconds", "5"], lab, 600, 5)
    add("stressng.signal", ["stressng", "--case", "signal", "--plugin", inj_so], lab, 600, 5)
    add("stressng.fail-hard", ["stressng", "--case", "fail-hard", "--plugin", inj_so, "--seconds", "5"], lab, 300, 3)
    add("stressng.jobs", ["stressng", "--case", "jobs", "--plugin", so], lab, 300)


# --------------------------------------------------------------- discover --

# -------------------------------------------------------------------- kvm --

KVM_READS_RE = re.compile(r"^reads (\d+) .*checks (\d+), KVM_GET_CLOCK brackets (\d+)", re.M)
KVM_OPS_RE = re.compile(r"^host operations (\d+):", re.M)


def kvm_run(exe, args, timeout):
    rc, out, err = run([exe] + args, timeout=timeout)
    if rc == SKIP:
        skip((out.strip() or err.strip()).splitlines()[-1])
    return rc, out, err


def cmd_kvm(a):
    """pvfuzz-kvm on this host's real KVM (skips without a usable /dev/kvm).
    clean: the mainline readers under random host operations exit 0 and count
    reads, checks, brackets and operations; caught: a buggy reader fires one
    of its registry oracles on real records, and the finding is on disk;
    cli: bad options are one-line usage errors."""
    exe = need_exe(a.exe, "pvfuzz-kvm")
    if a.case == "cli":
        for bad in (["--bogus"], ["--duration", "0"], ["--vcpus", "9"], ["--ops", "nope"],
                    ["--input", "/nonexistent/ops"], ["--seed", "-1"]):
            rc, out, err = run([exe] + bad, timeout=60)
            expect_one_line_error(rc, err, 2, "pvfuzz-kvm " + " ".join(bad))
        # the shipped reproducer decodes (shared ops and VMM extras, in order)
        rep = os.path.join(SRC, "corpora", "kvm", "tsc-write-then-rate-raise")
        rc, out, err = run([exe, "--decode", os.path.join(rep, "input"), "--extra", os.path.join(rep, "extra")])
        steps = [l.split()[1] for l in out.splitlines() if l.strip()]  # "@off+len NAME" or "extra NAME"
        check(rc == 0 and steps == ["idle", "tsc_write", "tsc_khz"],
              "--decode of %s: exit %d, steps %r (want idle, tsc_write, tsc_khz)" % (rep, rc, steps))
        # a vCPU that stops running is a liveness finding (the watchdog), not a clean run
        with tempfile.TemporaryDirectory(prefix="pvfuzz-kvm-") as d:
            rc, out, err = run([exe, "--no-ops", "--duration", "20", "--findings", d],
                               env={"PVFUZZ_KVM_TEST_HOLD": "1"}, timeout=120)
            if rc != SKIP:
                m = SUMMARY_RE.search(err)
                check(rc == 1 and m and m.group(1) == "liveness" and "vCPU 1" in err,
                      "a held vCPU 1: exit %d, %s (want 1, liveness on vCPU 1)" % (
                          rc, m.group(0) if m else "no SUMMARY line"))
        # no KVM on the machine: a one-line skip (77), never a failure
        rc, out, err = run([exe, "--duration", "1"], env={"PVFUZZ_KVM_DEVICE": "/nonexistent/kvm"})
        lines = oneline(out + err)
        check(rc == SKIP and len(lines) == 1 and "skipped" in lines[0] and "absent" in lines[0],
              "without /dev/kvm: exit %d, want 77 with one 'skipped: ... absent' line: %r" % (rc, lines))
        return
    with tempfile.TemporaryDirectory(prefix="pvfuzz-kvm-") as d:
        args = ["--duration", str(a.seconds), "--findings", d]
        if a.case == "clean":
            # the capabilities decide what the host can be asked: without
            # KVM_CAP_TSC_CONTROL a higher KVM_SET_TSC_KHZ is KVM's catch-up
            # mode, which a PVM host gets wrong (docs/real-world.md: a finding
            # of the long runs, not of this bounded test)
            probe_rc, probe, perr = kvm_run(exe, ["--no-ops", "--duration", "0.2", "--findings", d], 60)
            ops = "all" if "TSC_CONTROL 1" in probe else "all,-tsc_khz"
            args += ["--seed", str(a.seed), "--ops", ops]
            if a.variant:
                args += ["--readers", a.variant]
            rc, out, err = kvm_run(exe, args, a.seconds * 4 + 60)
            check(rc == 0, "mainline readers on the real KVM exited %d (want 0, clean):\n%s" % (
                rc, (err + out)[-3000:]))
            m, o = KVM_READS_RE.search(out), KVM_OPS_RE.search(out)
            check(m and o, "no reads/operations counts in the output:\n%s" % out[-2000:])
            reads, checks, brackets = (int(x) for x in m.groups())
            check(reads > 100 and checks >= reads and brackets > 0 and int(o.group(1)) > 10,
                  "too little happened: %s; %s" % (m.group(0), o.group(0)))
            check(not os.listdir(d), "a clean run left findings: %s" % os.listdir(d))
            log("clean: %s; %s" % (m.group(0), o.group(0)))
            return
        reg = by_name(load_registry(a.lister))
        check(a.variant in reg, "%s is not in the registry" % a.variant)
        want = expect_of(reg[a.variant])
        check(want, "%s is registered as safe: nothing to catch" % a.variant)
        args += ["--readers", a.variant, "--no-ops"]
        env = None
        if a.unwritable_findings:
            # a findings directory that cannot exist: the finding must land in $TMPDIR
            args[args.index("--findings") + 1] = "/proc/pvfuzz-unwritable"
            env = {"TMPDIR": d}
        rc, out, err = run([exe] + args, env=env, timeout=a.seconds * 4 + 60)
        if rc == SKIP:
            skip((out.strip() or err.strip()).splitlines()[-1])
        check(rc == 1, "%s on the real KVM exited %d within %d s (want 1, a finding):\n%s" % (
            a.variant, rc, a.seconds, (err + out)[-2000:]))
        m = SUMMARY_RE.search(err)
        check(m and m.group(1) in want, "%s fired %s, the registry expects %s" % (
            a.variant, m.group(1) if m else "no SUMMARY line", "|".join(want)))
        found = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs]
        reports = [f for f in found if f.endswith("/report.txt")]
        check(reports and any(f.endswith("/input") for f in found),
              "no finding (report.txt + input) under %s: %s" % (d, found))
        with open(reports[0]) as f:
            text = f.read()
        check(m.group(0) in text and "guest reads on vCPU" in text and "host operations" in text,
              "the finding's report lacks the SUMMARY line, the guest's values or the op log")
        log("caught: %s" % err.strip().splitlines()[0][:200] if err.strip() else m.group(0))


def cmake_q(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def stress_native(add, a, t, proto, base, buggy):
    """hv_tscpage and tlb under pvfuzz-stress: mainline clean (TSan), one bug caught."""
    tsan = os.path.join(a.tsan_dir, "stress", "pvfuzz-stress") if a.tsan_dir else ""
    asan = os.path.join(a.asan_dir, "stress", "pvfuzz-stress") if a.asan_dir else ""
    if proto == "hv_tscpage":
        add("stress.tsan.%s.mainline" % t, ["stress", "--case", "clean", "--protocol", proto,
            "--stress-exe", tsan, "--seconds", "10"] + base, ["stress"], 300, 10)
        if "kvm_hv_writer_no_invalidate" in buggy:  # CLK-12: every native update exposes it
            add("stress.tsan.%s.kvm_hv_writer_no_invalidate" % t, ["stress", "--case", "caught",
                "--protocol", proto, "--variant", "kvm_hv_writer_no_invalidate", "--stress-exe", tsan,
                "--seconds", "20"] + base, ["stress"], 400, 10)
    elif proto == "tlb":
        for be in ("native", "hyperv", "kvm-pv"):
            add("stress.tsan.tlb.%s-rcu" % be, ["stress", "--case", "clean", "--protocol", proto,
                "--extra", "--backend %s --free rcu" % be, "--stress-exe", tsan, "--seconds", "15"] + base,
                ["stress"], 400, 10)
        add("stress.asan.tlb.native-immediate", ["stress", "--case", "clean", "--protocol", proto,
            "--extra", "--backend native --free immediate", "--stress-exe", asan, "--asan",
            "--seconds", "15"] + base, ["stress"], 400, 10)
        if "hyperv_hypercall" in buggy:  # TLB-01: the table is freed under the IRQ-off walker
            add("stress.asan.tlb.hyperv-immediate", ["stress", "--case", "caught", "--protocol", proto,
                "--variant", "hyperv_hypercall", "--extra", "--backend hyperv --free immediate",
                "--stress-exe", asan, "--asan", "--seconds", "60"] + base, ["stress"], 900, 10)
    elif proto in ("vdso", "perf_time"):
        add("stress.tsan.%s.mainline" % t, ["stress", "--case", "clean", "--protocol", proto,
            "--stress-exe", tsan, "--seconds", "10"] + base, ["stress"], 300, 10)
        # a seqcount reader bug every native update window exposes (cross-CPU for perf)
        cv = {"vdso": "vdso_reader_no_retry", "perf_time": "perf_tsc_conversion_no_odd_check"}[proto]
        if cv in buggy:
            add("stress.tsan.%s.%s" % (t, cv), ["stress", "--case", "caught", "--protocol", proto,
                "--variant", cv, "--stress-exe", tsan, "--seconds", "20"] + base, ["stress"], 400, 10)


def cmd_discover(a):
    """Writes the ctest file of registry-driven tests (included at ctest time)."""
    lines = []
    py = [sys.executable or "python3", os.path.abspath(__file__)]
    common = ["--lister", a.lister or ""]

    def add(name, args, labels, timeout, cost=1):
        lines.append("add_test(%s %s)" % (cmake_q(name), " ".join(cmake_q(x) for x in py + args + common)))
        lines.append("set_tests_properties(%s PROPERTIES SKIP_RETURN_CODE 77 LABELS %s TIMEOUT %d "
                     "COST %d)" % (cmake_q(name), cmake_q(";".join(labels)), timeout, cost))

    def add_skip(name, msg, labels):
        lines.append("add_test(%s %s)" % (cmake_q(name), " ".join(cmake_q(x) for x in py + [
            "skip", "--msg", msg])))
        lines.append("set_tests_properties(%s PROPERTIES SKIP_RETURN_CODE 77 LABELS %s)" % (
            cmake_q(name), cmake_q(";".join(labels))))

    try:
        reg = load_registry(a.lister)
    except (Skip, Fail) as ex:
        add_skip("registry.variant-tests", "registry-driven tests not generated: %s" % ex,
                 ["regress", "scratch", "clean", "cli"])
        reg = None
    bounds = {}
    bf = os.path.join(HERE, "scratch_bounds.json")
    if os.path.isfile(bf):
        with open(bf) as f:
            bounds = json.load(f)
    targets = a.targets.split(";") if a.targets else []
    for t in targets:
        std = os.path.join(a.std_dir, t)
        lf = os.path.join(a.lf_dir, t) if a.lf_dir else ""
        afl = os.path.join(a.afl_dir, t) if a.afl_dir else ""
        base = ["--target", t, "--exe", std]
        add("seeds.%s" % t, ["seeds"] + base, ["regress"], 300)
        add("decoder.%s" % t, ["decoder"] + base + ["--count", str(a.decoder_count)],
            ["decoder"], 900, 5)
        for case in ("unknown", "wrong-protocol", "two-same-role"):
            add("cli.%s.variant-%s" % (t, case), ["cli-variant", "--case", case, "--lf-exe", lf] + base,
                ["cli"], 120)
        for case in ("missing-file", "bad-option", "no-file", "bad-count", "missing-arg"):
            add("cli.%s.replayer-%s" % (t, case), ["cli-replayer", "--case", case] + base, ["cli"], 60)
        if reg is None or not os.path.isfile(std):
            continue
        proto = target_protocol(std, reg)
        if not proto:
            add_skip("variants.%s" % t, "cannot tell the protocol of %s" % std, ["regress"])
            continue
        mine = [v for v in reg if v["protocol"] == proto]
        # regress files
        rdir = os.path.join(SRC, "corpora", "regress", t)
        if os.path.isdir(rdir):
            for vn in sorted(os.listdir(rdir)):
                vp = os.path.join(rdir, vn)
                files = [vp] if os.path.isfile(vp) else sorted(
                    os.path.join(vp, f) for f in os.listdir(vp)) if os.path.isdir(vp) else []
                for fp in files:
                    vname = vn if os.path.isfile(vp) else vn
                    tag = vname if os.path.isfile(vp) else "%s.%s" % (vname, os.path.basename(fp))
                    rb = ["--target", t, "--variant", vname, "--file", fp, "--exe", std]
                    add("regress.std.%s.%s" % (t, tag), ["regress-std", "--determinism", "100"] + rb,
                        ["regress"], 300)
                    add("regress.mainline.%s.%s" % (t, tag), ["regress-mainline", "--determinism", "10"] + rb,
                        ["regress"], 300)
                    add("regress.lf.%s.%s" % (t, tag), ["regress-engine", "--engine", "libfuzzer",
                                                        "--engine-exe", lf] + rb, ["regress"], 300)
                    add("regress.afl.%s.%s" % (t, tag), ["regress-engine", "--engine", "afl",
                                                         "--engine-exe", afl] + rb, ["regress"], 300)
                    if a.release_dir:  # the clean runs' -O2 build: its findings replay in std
                        add("regress.release.%s.%s" % (t, tag), ["regress-engine", "--engine", "libfuzzer",
                            "--engine-exe", os.path.join(a.release_dir, t)] + rb, ["regress"], 300)
                    for bn, bd in (("asan", a.asan_dir), ("tsan", a.tsan_dir)):
                        add("regress.%s.%s.%s" % (bn, t, tag), ["regress-replayer", "--engine", bn,
                            "--engine-exe", os.path.join(bd, t) if bd else ""] + rb, ["regress"], 300)
        if os.path.isdir(rdir):
            add("regress.launcher.%s" % t, ["launcher-replay", "--target", t], ["regress", "cli"], 900, 3)
        # every buggy variant must have a reproducer
        for v in mine:
            if expect_of(v):
                have = os.path.exists(os.path.join(rdir, v["name"]))
                if not have:
                    lines.append("add_test(%s %s)" % (cmake_q("regress.missing.%s.%s" % (t, v["name"])),
                                 " ".join(cmake_q(x) for x in py + ["fail", "--msg",
                                 "buggy variant %s has no corpora/regress/%s/%s (tools/make_regress.sh "
                                 "%s %s)" % (v["name"], t, v["name"], t, v["name"])])))
                    lines.append("set_tests_properties(%s PROPERTIES LABELS regress)" %
                                 cmake_q("regress.missing.%s.%s" % (t, v["name"])))
        # from scratch
        for v in mine:
            if expect_of(v):
                b = bounds.get(v["name"], bounds.get("default", 1000000))
                if not isinstance(b, dict):
                    b = {"runs": b}
                if "skip" in b:  # a race too rare for the suite's budget: shown as skipped, with why
                    add_skip("scratch.%s.%s" % (t, v["name"]), b["skip"], ["scratch", "fuzz"])
                    continue
                seeds = ",".join(str(x) for x in b.get("seeds", [1, 2]))
                add("scratch.%s.%s" % (t, v["name"]), ["scratch", "--variant", v["name"], "--lf-exe", lf,
                                                      "--runs", str(int(b["runs"])), "--seeds", seeds,
                                                      "--need", str(int(b.get("need", 0)))] + base,
                    ["scratch", "fuzz"], 1500, 10)
        # clean: every combination the registry calls safe (every role filled;
        # safe variants together, and buggy ones with a safe_with counterpart)
        mainline_label = c_select(a.lister, "mainline", proto)["label"]
        for c in c_query(a.lister, ["--combos", proto]):
            if c["expect"] != "safe":
                continue
            name = "mainline" if c["label"] == mainline_label else c["label"]
            fast = []  # the mainline pairing runs wholly under ASan+UBSan
            if name != "mainline" and a.release_dir:
                fast = ["--fast-exe", os.path.join(a.release_dir, t)]
            add("clean.%s.%s" % (t, name), ["clean", "--variant", c["spec"], "--protocol", proto,
                                            "--lf-exe", lf, "--runs", str(a.clean_runs),
                                            "--seed", "1"] + fast + base, ["clean", "fuzz"], 1500, 10)
        # native stress for the other protocols: the same readers/writers/walkers
        stress_native(add, a, t, proto, base, [v["name"] for v in mine if expect_of(v)])
        if proto == "pvclock":
            st = os.path.join(a.tsan_dir, "stress", "pvfuzz-stress") if a.tsan_dir else ""
            add("stress.tsan.%s.mainline" % t, ["stress", "--case", "clean", "--protocol", proto,
                                                "--stress-exe", st, "--seconds", "10"] + base,
                ["stress"], 300, 10)
            # a writer bug the native world catches on its own updates, without luck
            cv = "kvm_pvclock_writer_2010_warp"
            if cv in [v["name"] for v in mine if expect_of(v)]:
                add("stress.tsan.%s.%s" % (t, cv), ["stress", "--case", "caught", "--protocol", proto,
                    "--variant", cv, "--stress-exe", st, "--seconds", "20"] + base, ["stress"], 400, 10)
    realworld_tests(add, add_skip, a)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("# generated by tests/pvtest.py discover at ctest time; do not edit\n")
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, a.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def sp(name, fn):
        p = sub.add_parser(name)
        p.set_defaults(fn=fn)
        p.add_argument("--lister", default="")
        p.add_argument("--target", default="")
        p.add_argument("--exe", default="")
        return p

    sp("registry-lister", cmd_registry_lister)
    sp("variants-doc", cmd_variants_doc)
    sp("seeds", cmd_seeds)
    p = sp("decoder", cmd_decoder)
    p.add_argument("--count", type=int, default=3000)
    p.add_argument("--seed", type=int, default=1)
    for name, fn in (("regress-std", cmd_regress_std), ("regress-engine", cmd_regress_engine),
                     ("regress-replayer", cmd_regress_replayer), ("regress-mainline", cmd_regress_mainline)):
        p = sp(name, fn)
        p.add_argument("--variant", required=True)
        p.add_argument("--file", required=True)
        p.add_argument("--determinism", type=int, default=100)
        p.add_argument("--engine", default="libfuzzer")
        p.add_argument("--engine-exe", default="")
    p = sp("scratch", cmd_scratch)
    p.add_argument("--variant", required=True)
    p.add_argument("--lf-exe", default="")
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    p.add_argument("--need", type=int, default=0, help="seeds that must find (default: all)")
    p = sp("clean", cmd_clean)
    p.add_argument("--variant", default="", help="a selection spec (a,b,c)")
    p.add_argument("--fast-exe", default="", help="release build: the full runs go there")
    p.add_argument("--protocol", default="")
    p.add_argument("--lf-exe", default="")
    p.add_argument("--runs", type=int, default=200000)
    p.add_argument("--seed", type=int, default=1)
    p = sp("cli-variant", cmd_cli_variant)
    p.add_argument("--case", required=True)
    p.add_argument("--lf-exe", default="")
    p = sp("cli-replayer", cmd_cli_replayer)
    p.add_argument("--case", required=True)
    p = sp("cli-launcher", cmd_cli_launcher)
    p.add_argument("--case", required=True)
    p = sp("launcher-plan", cmd_launcher_plan)
    p.add_argument("--targets", default="")
    sp("launcher-replay", cmd_launcher_replay)
    p = sp("launcher-signal", cmd_launcher_signal)
    p.add_argument("--signal", choices=("INT", "TERM"), required=True)
    p.add_argument("--tries", type=int, default=20)
    p.add_argument("--variant", default="clock_math_u64_mul")
    p.add_argument("--slow-variant", default="clock_math_mainline")
    p.add_argument("--seed", type=int, default=1)
    p = sp("launcher-savefail", cmd_launcher_savefail)
    p.add_argument("--case", choices=("readonly", "full"), required=True)
    p.add_argument("--variant", default="clock_math_u64_mul")
    p = sp("launcher-env", cmd_launcher_env)
    p.add_argument("--case", required=True)
    sp("launcher-byo", cmd_launcher_byo)
    p = sp("stress", cmd_stress)
    p.add_argument("--case", required=True)
    p.add_argument("--variant", default="")
    p.add_argument("--stress-exe", default="")
    p.add_argument("--protocol", default="pvclock")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--extra", default="")
    p.add_argument("--asan", action="store_true")
    p = sp("check", cmd_check)
    p.add_argument("--case", required=True)
    p.add_argument("--checker", default="vdso")
    p.add_argument("--check-exe", default="")
    p.add_argument("--inject", default="")
    p.add_argument("--seconds", type=int, default=5)
    p = sp("stressng", cmd_stressng)
    p.add_argument("--case", required=True)
    p.add_argument("--plugin", default="")
    p.add_argument("--check-exe", default="")
    p.add_argument("--inject", default="")
    p.add_argument("--seconds", type=int, default=5)
    p = sp("kvm", cmd_kvm)
    p.add_argument("--case", required=True, choices=["clean", "caught", "cli"])
    p.add_argument("--unwritable-findings", action="store_true")
    p.add_argument("--variant", default="")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p = sp("mutate-selftest", cmd_mutate_selftest)
    p.add_argument("--killed", default="clk-r01")
    p.add_argument("--equivalent", default="clk-r03")
    p = sp("discover", cmd_discover)
    p.add_argument("--out", required=True)
    p.add_argument("--targets", default="")
    p.add_argument("--std-dir", required=True)
    p.add_argument("--lf-dir", default="")
    p.add_argument("--afl-dir", default="")
    p.add_argument("--tsan-dir", default="")
    p.add_argument("--asan-dir", default="")
    p.add_argument("--release-dir", default="")
    p.add_argument("--decoder-count", type=int, default=3000)
    p.add_argument("--clean-runs", type=int, default=200000)
    p = sp("skip", lambda a: skip(a.msg))
    p.add_argument("--msg", required=True)
    p = sp("fail", lambda a: check(False, a.msg))
    p.add_argument("--msg", required=True)
    a = ap.parse_args()
    try:
        a.fn(a)
    except Skip as ex:
        print("SKIPPED: %s" % ex, flush=True)
        return SKIP
    except Fail as ex:
        print("FAIL: %s" % ex, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
