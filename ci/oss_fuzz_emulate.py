#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build pvfuzz as OSS-Fuzz's base-builder does, then check it as check_build does.

usage: ci/oss_fuzz_emulate.py CONFIG [--keep DIR]
       ci/oss_fuzz_emulate.py --configs        the CONFIGs ci/project.yaml implies

CONFIG is libfuzzer-address, libfuzzer-undefined, afl-address or coverage:
the (engine, sanitizer) builds OSS-Fuzz makes for the sanitizers and engines
ci/project.yaml lists (AFL++ only with ASan, as OSS-Fuzz does; coverage for
every project).  The build environment is the base images' (sources:
google/oss-fuzz infra/base-images/base-clang/Dockerfile for CFLAGS,
base-builder/Dockerfile for SANITIZER_FLAGS_*, COVERAGE_FLAGS(_coverage) and
LIB_FUZZING_ENGINE, base-builder/compile for how they combine,
base-builder/compile_libfuzzer and compile_afl for the engines):

    CFLAGS   = -O1 -fno-omit-frame-pointer -gline-tables-only
               -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
               + $SANITIZER_FLAGS_<sanitizer> + $COVERAGE_FLAGS
    CXXFLAGS = $CFLAGS -stdlib=libc++   (dropped, with a note, if this
               machine's clang cannot link libc++: pvfuzz has no C++ code)

and ci/build.sh runs with SRC, WORK and OUT set.  Then, per target in $OUT
(every targets/*.c), what base-runner's bad_build_check does: the engine
starts and sees coverage (libFuzzer: >= 100 edges; AFL++: afl-fuzz gets to
"All set and ready to roll"; coverage: the profile runtime is linked), the
binary is x86-64 and instrumented with its sanitizer and no other (calls to
__asan_*/__ubsan_*, counted as check_mixed_sanitizers counts them), a short
run does not crash; and beyond what check_build asks: every input of the
seed corpus zip runs without a crash and without any SUMMARY (no false
finding: the zip holds the mainline seeds and the regression reproducers
the mainline pairing runs clean - ci/build.sh leaves out a known finding in
a mainline variant), and the .dict/.options files ci/build.sh
ships parse for libFuzzer.  Exit 0 pass, 1 fail, 2 usage, 77 skip.
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
SKIP = 77

BASE_CFLAGS = "-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
SANITIZER_FLAGS = {
    "address": "-fsanitize=address -fsanitize-address-use-after-scope",
    "undefined": "-fsanitize=array-bounds,bool,builtin,enum,float-divide-by-zero,function,"
                 "integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,"
                 "signed-integer-overflow,unsigned-integer-overflow,unreachable,vla-bound,vptr "
                 "-fno-sanitize-recover=array-bounds,bool,builtin,enum,float-divide-by-zero,function,"
                 "integer-divide-by-zero,null,object-size,return,returns-nonnull-attribute,shift,"
                 "signed-integer-overflow,unreachable,vla-bound,vptr",
    "coverage": "",
}
COVERAGE_FLAGS = "-fsanitize=fuzzer-no-link"
COVERAGE_FLAGS_COVERAGE = ("-fprofile-instr-generate -fcoverage-mapping -pthread -Wl,--no-as-needed "
                           "-Wl,-ldl -Wl,-lm -Wno-unused-command-line-argument")
# the runtime options OSS-Fuzz's images set (base-builder / base-runner)
RUN_ENV = {"UBSAN_OPTIONS": "silence_unsigned_overflow=1:halt_on_error=1:print_stacktrace=1",
           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:symbolize=0"}
# check_mixed_sanitizers thresholds (base-runner/bad_build_check)
ASAN_CALLS_MIN, UBSAN_CALLS_MIN, UBSAN_CALLS_MAX_NON_UBSAN = 1000, 169, 200
MIN_EDGES = 100
CONFIGS = ("libfuzzer-address", "libfuzzer-undefined", "afl-address", "coverage")


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def run(cmd, env=None, timeout=600, cwd=None):
    p = subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def project_yaml():
    """sanitizers and fuzzing_engines of ci/project.yaml (a flat YAML; no parser needed)."""
    lists, key = {}, None
    with open(os.path.join(HERE, "project.yaml")) as f:
        for line in f:
            line = line.split("#", 1)[0].rstrip()
            m = re.match(r"^([a-z_]+):\s*$", line)
            if m:
                key = m.group(1)
                lists[key] = []
            elif re.match(r"^\s+-\s+\S", line) and key:
                lists[key].append(line.split("-", 1)[1].strip())
            elif line and not line.startswith(" "):
                key = None
    return lists.get("sanitizers", []), lists.get("fuzzing_engines", [])


def yaml_scalar(path, key):
    with open(path) as f:
        m = re.search(r"^%s:\s*(\S+)" % key, f.read(), re.M)
    return m.group(1).strip("'\"") if m else None


def check_clusterfuzzlite():
    """.github/workflows/cflite_*.yml agree with .clusterfuzzlite/ and ci/project.yaml."""
    sans, _ = project_yaml()
    lang = yaml_scalar(os.path.join(HERE, "project.yaml"), "language")
    cfl = os.path.join(SRC, ".clusterfuzzlite")
    if yaml_scalar(os.path.join(cfl, "project.yaml"), "language") != lang:
        raise Fail(".clusterfuzzlite/project.yaml and ci/project.yaml name different languages")
    with open(os.path.join(cfl, "build.sh")) as f:
        if "ci/build.sh" not in f.read():
            raise Fail(".clusterfuzzlite/build.sh does not run ci/build.sh")
    flows = sorted(glob.glob(os.path.join(SRC, ".github", "workflows", "cflite_*.yml")))
    modes = set()
    for fn in flows:
        with open(fn) as f:
            t = f.read()
        name = os.path.relpath(fn, SRC)
        for l in re.findall(r"^\s+language:\s*(\S+)", t, re.M):
            if l != lang:
                raise Fail("%s: language %s, .clusterfuzzlite says %s" % (name, l, lang))
        for m in re.findall(r"sanitizer:\s*\[([^\]]*)\]", t):
            extra = {x.strip() for x in m.split(",")} - set(sans) - {"coverage"}
            if extra:
                raise Fail("%s: sanitizers %s are not in ci/project.yaml (not proven)" % (name, sorted(extra)))
        for m in re.findall(r"^\s+sanitizer:\s*([a-z]+)\s*$", t, re.M):
            if m not in set(sans) | {"coverage"}:
                raise Fail("%s: sanitizer %s is not in ci/project.yaml" % (name, m))
        if "google/clusterfuzzlite/actions/build_fuzzers@" not in t:
            raise Fail("%s: no build_fuzzers step" % name)
        modes |= set(re.findall(r"^\s+mode:\s*'?([a-z-]+)'?", t, re.M))
    want = {"code-change", "batch", "prune", "coverage"}
    if not want <= modes:
        raise Fail("ClusterFuzzLite workflows lack modes %s" % sorted(want - modes))
    return len(flows), sorted(modes)


def implied_configs():
    sans, engines = project_yaml()
    out = []
    for e in engines:
        for s in sans:
            if e == "afl" and s != "address":
                continue  # OSS-Fuzz runs AFL++ with ASan only
            out.append("%s-%s" % (e, s))
    return out + ["coverage"]


def targets():
    return sorted(os.path.basename(f)[:-2] for f in glob.glob(os.path.join(SRC, "targets", "*.c"))
                  if not f.endswith("standalone_main.c"))


def libcxx_ok(tmp):
    src = os.path.join(tmp, "t.cc")
    with open(src, "w") as f:
        f.write("#include <string>\nint main() { return std::string(\"x\").size() - 1; }\n")
    rc, _ = run(["clang++", "-stdlib=libc++", "-o", os.path.join(tmp, "t"), src], timeout=120)
    return rc == 0


def build_env(config, tmp):
    engine, _, san = config.partition("-")
    if config == "coverage":
        engine, san = "libfuzzer", "coverage"
    env = dict(os.environ)
    for k in ("PVFUZZ_VARIANT", "PVFUZZ_PRINT_HASH", "CFLAGS", "CXXFLAGS", "ASAN_OPTIONS",
              "UBSAN_OPTIONS"):
        env.pop(k, None)
    cflags = BASE_CFLAGS + " " + SANITIZER_FLAGS[san]
    if san == "coverage":
        cflags += " " + COVERAGE_FLAGS_COVERAGE
    elif engine == "libfuzzer":
        cflags += " " + COVERAGE_FLAGS
    if engine == "afl":
        for tool in ("afl-clang-fast", "afl-clang-fast++", "afl-fuzz"):
            if not shutil.which(tool):
                raise Skip("%s missing (Debian afl++; ./pvfuzz installs it)" % tool)
        drv = "/usr/lib/afl/libAFLDriver.a"
        if not os.path.isfile(drv):
            raise Skip("%s missing (Debian afl++)" % drv)
        # compile_afl copies libAFLDriver.a to $LIB_FUZZING_ENGINE; no COVERAGE_FLAGS
        env.update(CC="afl-clang-fast", CXX="afl-clang-fast++", LIB_FUZZING_ENGINE=drv,
                   AFL_QUIET="1", ASAN_OPTIONS="detect_leaks=0:symbolize=0:detect_odr_violation=0:"
                   "abort_on_error=1")
    else:
        env.update(CC="clang", CXX="clang++", LIB_FUZZING_ENGINE="-fsanitize=fuzzer")
    cxx_extra = "-stdlib=libc++"
    if not libcxx_ok(tmp):
        log("note: clang++ cannot link libc++ here (Debian libc++-14-dev absent); CXXFLAGS without "
            "-stdlib=libc++ (pvfuzz has no C++ source; only the link step is C++)")
        cxx_extra = ""
    env.update(CFLAGS=cflags, CXXFLAGS=(cflags + " " + cxx_extra).strip(), SANITIZER=san,
               FUZZING_ENGINE=engine, ARCHITECTURE="x86_64", FUZZING_LANGUAGE="c",
               PVFUZZ_BUILD_JOBS=env.get("PVFUZZ_BUILD_JOBS", "2"))
    return engine, san, env


def call_counts(exe):
    rc, out = run(["objdump", "-d", "--no-show-raw-insn", exe], timeout=300)
    if rc:
        raise Fail("objdump -d %s failed" % exe)
    count = lambda pfx: len(re.findall(r"\bcall[q]?\s+[0-9a-f]+\s+<%s" % pfx, out))
    return count("__asan"), count("__ubsan"), count("__msan"), count("__dfsan")


def symbols(exe):
    rc, out = run(["nm", exe], timeout=120)
    return out


def is_x86_64(exe):
    with open(exe, "rb") as f:
        h = f.read(20)
    return h[:4] == b"\x7fELF" and h[4] == 2 and int.from_bytes(h[18:20], "little") == 62


def afl_until_ready(cmd, env, limit=60):
    """afl-fuzz until it says it is fuzzing (check_build's sign), then SIGINT it."""
    import signal
    import time
    p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    buf, t0 = b"", time.time()
    os.set_blocking(p.stdout.fileno(), False)
    while p.poll() is None and time.time() - t0 < limit:
        chunk = p.stdout.read() or b""
        buf += chunk
        if b"All set and ready to roll" in buf:
            break
        time.sleep(0.1)
    if p.poll() is None:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    os.set_blocking(p.stdout.fileno(), True)
    buf += p.stdout.read() or b""
    return p.returncode, buf.decode("utf-8", "replace")


def seed_inputs(out, t, tmp):
    z = os.path.join(out, t + "_seed_corpus.zip")
    if not os.path.isfile(z):
        return None
    d = os.path.join(tmp, "seeds-" + t)
    os.makedirs(d, exist_ok=True)
    with zipfile.ZipFile(z) as zf:
        zf.extractall(d)
    return d


def check_target(config, engine, san, out, t, tmp, renv):
    exe = os.path.join(out, t)
    if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise Fail("%s: ci/build.sh put no binary for targets/%s.c into $OUT" % (t, t))
    if not is_x86_64(exe):
        raise Fail("%s is not an x86-64 ELF (check_architecture)" % exe)
    # ---- instrumentation: check_mixed_sanitizers
    asan, ubsan, msan, dfsan = call_counts(exe)
    if msan > 3 or dfsan:
        raise Fail("%s: MSan/DFSan calls in a %s build" % (t, config))
    if san == "address" and (asan < ASAN_CALLS_MIN or ubsan > UBSAN_CALLS_MAX_NON_UBSAN):
        raise Fail("%s: ASan build with %d __asan calls (need >= %d) and %d __ubsan calls (max %d)" % (
            t, asan, ASAN_CALLS_MIN, ubsan, UBSAN_CALLS_MAX_NON_UBSAN))
    if san == "undefined" and (asan or ubsan < UBSAN_CALLS_MIN):
        raise Fail("%s: UBSan build with %d __asan calls (need 0) and %d __ubsan calls (need >= %d)" % (
            t, asan, ubsan, UBSAN_CALLS_MIN))
    if san == "coverage" and (asan or ubsan > UBSAN_CALLS_MAX_NON_UBSAN):
        # (check_build does not look at coverage builds; the runtimes make a few __ubsan calls)
        raise Fail("%s: coverage build with sanitizer calls (asan %d, ubsan %d)" % (t, asan, ubsan))
    syms = symbols(exe)
    what = "%d __asan / %d __ubsan calls" % (asan, ubsan)
    if engine == "afl":
        if "__afl_area_ptr" not in syms:
            raise Fail("%s: no __afl_area_ptr: not instrumented by afl-clang-fast" % t)
        what += ", AFL++ instrumented"
    elif san == "coverage":
        if "__llvm_profile_runtime" not in syms and "__llvm_profile_write_file" not in syms:
            raise Fail("%s: coverage build without the profile runtime" % t)
        what += ", profile runtime"
    elif "__sanitizer_cov_8bit_counters_init" not in syms and "__sanitizer_cov_trace_pc_guard" not in syms:
        raise Fail("%s: no SanitizerCoverage hooks: not instrumented" % t)
    seeds = seed_inputs(out, t, tmp)
    files = sorted(glob.glob(os.path.join(seeds, "*"))) if seeds else []
    # ---- engine start + startup crash: check_engine / check_startup_crash
    if engine == "libfuzzer":
        if san != "coverage":  # a coverage build has no fuzzer feedback: it only replays corpora
            rc, o = run([exe, "-seed=1337", "-runs=4"], env=renv, timeout=300)
            if "no interesting inputs were found" in o:
                raise Fail("%s: libFuzzer found no coverage instrumentation" % t)
            if rc != 0 or "Done 4 runs" not in o:
                raise Fail("%s: startup crash or exit (rc %d):\n%s" % (t, rc, o[-1500:]))
            m = re.search(r"INFO: Loaded \d+ modules?\s+\((\d+) (?:inline 8-bit counters|guards)\)", o)
            if not m or int(m.group(1)) < MIN_EDGES:
                raise Fail("%s: %s edges (check_build wants >= %d)" % (t, m.group(1) if m else "no",
                                                                       MIN_EDGES))
            what += ", %s edges" % m.group(1)
        # the options and dict ci/build.sh ships: libFuzzer must accept them
        opt = os.path.join(out, t + ".options")
        args = []
        if os.path.isfile(opt):
            sec = False
            for line in open(opt):
                line = line.strip()
                if line.startswith("["):
                    sec = line == "[libfuzzer]"
                elif sec and "=" in line:
                    k, v = (x.strip() for x in line.split("=", 1))
                    args.append("-%s=%s" % (k, os.path.join(out, v) if k == "dict" else v))
        # the seed corpus: every input, no crash and no finding (check_seed_corpus, -runs=0)
        if files:
            prof = os.path.join(tmp, "%s-%%p.profraw" % t)
            e = dict(renv, LLVM_PROFILE_FILE=prof)
            rc, o = run([exe, "-runs=0", "-rss_limit_mb=2560", "-timeout=25"] + args + [seeds],
                        env=e, timeout=600)
            if rc != 0 or "SUMMARY:" in o or "ERROR:" in o:
                raise Fail("%s: the seed corpus crashes or trips an oracle (rc %d):\n%s" % (
                    t, rc, "\n".join(l for l in o.splitlines() if "SUMMARY" in l or "ERROR" in l)[:1500]
                    or o[-1500:]))
            if args and "Dictionary:" not in o and any(a.startswith("-dict=") for a in args):
                raise Fail("%s: libFuzzer did not load %s" % (t, [a for a in args if "dict" in a]))
            what += ", %d seeds clean" % len(files)
            if san == "coverage":
                raws = glob.glob(os.path.join(tmp, "%s-*.profraw" % t))
                prof_tool = shutil.which("llvm-profdata") or shutil.which("llvm-profdata-14")
                if not raws:
                    raise Fail("%s: no .profraw written by the coverage build" % t)
                if prof_tool:
                    pd = os.path.join(tmp, t + ".profdata")
                    rc, o = run([prof_tool, "merge", "-sparse", "-o", pd] + raws, timeout=300)
                    if rc:
                        raise Fail("%s: llvm-profdata merge: %s" % (t, o[-500:]))
                    cov = shutil.which("llvm-cov") or shutil.which("llvm-cov-14")
                    if cov:
                        rc, o = run([cov, "report", exe, "-instr-profile=" + pd], timeout=300)
                        tot = re.search(r"^TOTAL\s.*$", o, re.M)
                        pct = re.findall(r"(\d+\.\d+)%", tot.group(0)) if tot else []
                        if rc or len(pct) < 3:
                            raise Fail("%s: llvm-cov report failed: %s" % (t, o[-500:]))
                        # columns: regions, functions, lines[, branches]
                        what += ", llvm-cov report: %s%% of lines" % pct[2]
                else:
                    log("note: llvm-profdata missing: coverage profile not merged")
    else:  # afl: the driver replays files; afl-fuzz must get going
        if files:
            e = dict(renv, ASAN_OPTIONS=RUN_ENV["ASAN_OPTIONS"])
            rc, o = run([exe] + files, env=e, timeout=600)
            if rc != 0 or "SUMMARY:" in o or "ERROR:" in o:
                raise Fail("%s: the AFL++ build crashes or trips an oracle on its seed corpus (rc %d): %s"
                           % (t, rc, o[-1500:]))
            what += ", %d seeds clean" % len(files)
        ind = os.path.join(tmp, "afl-in-" + t)
        os.makedirs(ind, exist_ok=True)
        nonempty = [f for f in files if os.path.getsize(f) > 0]
        if nonempty:
            shutil.copy(nonempty[0], os.path.join(ind, "seed"))
        else:  # any bytes are a scenario
            with open(os.path.join(ind, "seed"), "wb") as f:
                f.write(b"pvfz")
        e = dict(renv, AFL_NO_UI="1", AFL_SKIP_CPUFREQ="1", AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES="1",
                 AFL_FORKSRV_INIT_TMOUT="30000", AFL_TRY_AFFINITY="1", AFL_FAST_CAL="1",
                 ASAN_OPTIONS=RUN_ENV["ASAN_OPTIONS"])
        rc, o = afl_until_ready(["afl-fuzz", "-i", ind, "-o", os.path.join(tmp, "afl-out-" + t),
                                 "-V", "30", "-m", "none", "-t", "5000", "--", exe], e)
        if "All set and ready to roll" not in o:
            raise Fail("%s: afl-fuzz did not start (rc %d):\n%s" % (t, rc, o[-1500:]))
        if re.search(r"target binary (crashed|terminated)", o):
            raise Fail("%s: afl-fuzz: the target crashed at start-up" % t)
        what += ", afl-fuzz ready to roll"
    log("%s %s: %s" % (config, t, what))


def emulate(config, keep):
    if config not in CONFIGS:
        raise Fail("unknown config %s (%s)" % (config, ", ".join(CONFIGS)))
    if config not in implied_configs():
        raise Fail("%s is not a build ci/project.yaml asks for (%s)" % (config, implied_configs()))
    for tool in ("clang", "clang++", "cmake", "zip", "objdump", "nm"):
        if not shutil.which(tool):
            raise Skip("%s missing (./pvfuzz installs what it needs)" % tool)
    tmp = tempfile.mkdtemp(prefix="pvfuzz-ossfuzz-%s-" % config)
    cwd = os.getcwd()
    os.chdir(tmp)  # the binaries drop default.profraw, fuzz-*.log, crash-* in their cwd
    try:
        engine, san, env = build_env(config, tmp)
        out, work = os.path.join(tmp, "out"), os.path.join(tmp, "work")
        os.makedirs(out)
        os.makedirs(work)
        env.update(OUT=out, WORK=work, SRC=os.path.join(tmp, "src"))  # no $SRC/pvfuzz: the checkout is used
        rc, o = run(["bash", "-eu", os.path.join(HERE, "build.sh")], env=env, timeout=1800)
        if rc:
            raise Fail("ci/build.sh (%s) failed:\n%s" % (config, o[-3000:]))
        log("%s: ci/build.sh built %s" % (config, " ".join(sorted(os.listdir(out)))))
        renv = dict(os.environ)
        for k in ("PVFUZZ_VARIANT", "PVFUZZ_PRINT_HASH"):
            renv.pop(k, None)
        renv.update(RUN_ENV)
        for t in targets():
            check_target(config, engine, san, out, t, tmp, renv)
            for ext in (".dict", ".options"):
                if os.path.isfile(os.path.join(SRC, "corpora", t, t + ext)) and \
                        not os.path.isfile(os.path.join(out, t + ext)):
                    raise Fail("%s: ci/build.sh did not ship corpora/%s/%s%s" % (t, t, t, ext))
            if glob.glob(os.path.join(SRC, "corpora", t, "seeds", "*")) and \
                    not os.path.isfile(os.path.join(out, t + "_seed_corpus.zip")):
                raise Fail("%s: ci/build.sh made no %s_seed_corpus.zip" % (t, t))
        if keep:
            shutil.copytree(out, keep, dirs_exist_ok=True)
        log("%s: %d targets pass the check_build emulation" % (config, len(targets())))
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?")
    ap.add_argument("--configs", action="store_true", help="print the builds ci/project.yaml implies")
    ap.add_argument("--expect-configs", default=None,
                    help="comma-separated configs the test suite runs: must equal --configs")
    ap.add_argument("--keep", default="")
    a = ap.parse_args()
    try:
        if a.configs:
            print("\n".join(implied_configs()))
            return 0
        if a.expect_configs is not None:
            want = sorted(implied_configs())
            got = sorted(x for x in a.expect_configs.split(",") if x)
            if want != got:
                raise Fail("ci/project.yaml implies %s, the tests emulate %s" % (want, got))
            log("ci/project.yaml implies exactly the emulated builds: %s" % ", ".join(want))
            n, modes = check_clusterfuzzlite()
            log("%d ClusterFuzzLite workflows (modes %s) agree with .clusterfuzzlite/ and "
                "ci/project.yaml" % (n, ", ".join(modes)))
            return 0
        if not a.config:
            print("pvfuzz: oss_fuzz_emulate: which CONFIG? (%s)" % ", ".join(CONFIGS), file=sys.stderr)
            return 2
        emulate(a.config, os.path.abspath(a.keep) if a.keep else "")
    except Skip as ex:
        print("SKIPPED: %s" % ex, flush=True)
        return SKIP
    except Fail as ex:
        print("FAIL: %s" % ex, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
