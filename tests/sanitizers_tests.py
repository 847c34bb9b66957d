#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""sanitizers/ is the one source of sanitizer flags and runtime options.

  - every sanitizers/*.options line is one key=value with a '#' reason, and
    every key is a flag its runtime knows (asked with help=1 of a tiny clang
    program built with that sanitizer);
  - every suppression or ignorelist file there has a reason on each entry;
    with none, the README says so;
  - CMakePresets.json takes its -fsanitize flag sets from
    sanitizers/presets.json and spells none itself;
  - the launcher and the test driver set *SAN_OPTIONS only from these files.

Exit codes: 0 pass, 1 fail, 77 skipped (clang missing).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
SAN = os.path.join(SRC, "sanitizers")
RUNTIME = {"asan": "address", "ubsan": "undefined", "tsan": "thread"}
ENV = {"asan": "ASAN_OPTIONS", "ubsan": "UBSAN_OPTIONS", "tsan": "TSAN_OPTIONS"}


def fail(msg):
    print("FAIL: %s" % msg, file=sys.stderr, flush=True)
    sys.exit(1)


def known_flags(kind, tmp):
    exe = os.path.join(tmp, "m_" + kind)
    if not os.path.exists(exe):
        src = os.path.join(tmp, "m.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        p = subprocess.run(["clang", "-fsanitize=" + RUNTIME[kind], "-o", exe, src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode:
            fail("clang -fsanitize=%s: %s" % (RUNTIME[kind], p.stdout.decode()[-300:]))
    env = dict(os.environ)
    env[ENV[kind]] = "help=1"
    p = subprocess.run([exe], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return set(re.findall(r"^\t([a-z_0-9]+)$", p.stdout.decode(), re.M))


def main():
    if not shutil.which("clang"):
        print("SKIPPED: clang missing: cannot ask the sanitizer runtimes for their flags")
        return 77
    tmp = tempfile.mkdtemp(prefix="pvfuzz-san-")
    try:
        files = sorted(glob.glob(os.path.join(SAN, "*.options")))
        kinds = set()
        for fn in files:
            kind = os.path.basename(fn).split(".")[0].split("-")[0]
            if kind not in RUNTIME:
                fail("%s: no runtime named %r (asan, ubsan, tsan)" % (fn, kind))
            kinds.add(kind)
            flags = known_flags(kind, tmp)
            for n, line in enumerate(open(fn), 1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                opt, _, why = line.partition("#")
                m = re.match(r"^\s*([a-z_0-9]+)=(\S+)\s*$", opt)
                if not m:
                    fail("%s:%d: want key=value, got %r" % (fn, n, opt.strip()))
                if len(why.strip()) < 12:
                    fail("%s:%d: %s has no reason after '#'" % (fn, n, m.group(1)))
                if m.group(1) not in flags:
                    fail("%s:%d: %s is not a flag of %s" % (fn, n, m.group(1), RUNTIME[kind]))
        if kinds != set(RUNTIME):
            fail("sanitizers/ lacks options for %s" % sorted(set(RUNTIME) - kinds))
        supp = [f for f in glob.glob(os.path.join(SAN, "*"))
                if re.search(r"(\.supp|ignorelist[^/]*|\.txt)$", f)]
        for fn in supp:
            for n, line in enumerate(open(fn), 1):
                s = line.strip()
                if s and not s.startswith("#") and "#" not in s:
                    prev = open(fn).read().splitlines()[n - 2].strip() if n > 1 else ""
                    if not prev.startswith("#"):
                        fail("%s:%d: entry without a one-line reason: %s" % (fn, n, s))
        readme = open(os.path.join(SAN, "README.md")).read()
        if not supp and "no suppressions" not in readme.lower():
            fail("sanitizers/README.md must say that there are no suppressions")
        with open(os.path.join(SRC, "CMakePresets.json")) as f:
            presets = json.load(f)
        if "sanitizers/presets.json" not in presets.get("include", []):
            fail("CMakePresets.json does not include sanitizers/presets.json")
        if "-fsanitize=" in json.dumps(presets["configurePresets"]):
            fail("CMakePresets.json spells a -fsanitize flag set itself; take it from sanitizers/presets.json")
        with open(os.path.join(SAN, "presets.json")) as f:
            san_presets = {p["name"] for p in json.load(f)["configurePresets"]}
        used = {i for p in presets["configurePresets"] for i in (
            p.get("inherits") if isinstance(p.get("inherits"), list) else [p.get("inherits")]) if i}
        if not san_presets <= used:
            fail("flag sets no preset uses: %s" % sorted(san_presets - used))
        for fn in (os.path.join(SRC, "pvfuzz"), os.path.join(HERE, "pvtest.py")):
            for n, line in enumerate(open(fn), 1):
                if re.search(r"SAN_OPTIONS[\"']?\s*[,=:]\s*[\"']?[a-z_]+=", line):
                    fail("%s:%d: inline sanitizer options; read sanitizers/*.options" % (fn, n))
        print("%d options files, every key known to its runtime and justified; %d suppression files; "
              "presets take their flag sets from sanitizers/presets.json" % (len(files), len(supp)))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
