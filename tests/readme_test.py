#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The README tells the truth: a ctest test (docs.readme).

  readme_test.py [--run] [--readme README.md]

Checks, against the checkout and the launcher itself:
  - every `./pvfuzz SUB ...` line in a code block names a subcommand that
    exists, and every --option on it is one that subcommand accepts (its
    --help; for stress, also the runner's own --help);
  - with --run, the commands that can run quickly do: `list`, `replay` of a
    committed file, `fuzz` (as --dry-run), `stress` (for one second);
  - every path the README names in code or a link exists;
  - every subcommand of `./pvfuzz help`, every option of its usage lines,
    every fuzz target, every CMake preset and every environment variable
    the launcher reads is named in the README.
Exit 0 pass, 1 fail (every problem listed), 77 skipped (no launcher).
"""
import argparse
import glob
import json
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
LAUNCHER = os.path.join(SRC, "pvfuzz")
PATH_ROOTS = ("corpora/", "examples/", "docs/", "tools/", "src/", "include/", "stress/", "tests/",
              "bench/", "ci/", "sanitizers/", "targets/", ".ci/", ".clusterfuzzlite/", ".github/")
PLACEHOLDER = re.compile(r"[<>]|\.\.\.|…|\bFILE\b|\bF\.c\b|\bDIR\b")


def sh(args, timeout=900):
    env = dict(os.environ)
    for k in ("PVFUZZ_VARIANT", "PVFUZZ_PRINT_HASH", "PVFUZZ_FINDINGS"):
        env.pop(k, None)
    p = subprocess.run(args, cwd=SRC, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def code_blocks(text):
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)


def command_lines(block):
    """Joined lines of a block (backslash continuations), prompts and
    trailing comments removed."""
    out, cur = [], ""
    for raw in block.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        cur = re.sub(r"^\s*\$\s+", "", cur)
        cur = re.sub(r"\s+#\s.*$", "", cur)
        if cur.strip():
            out.append(cur.strip())
        cur = ""
    return out


def launcher_commands(text):
    """Every `./pvfuzz ...` command in the README's code blocks: (line, argv)."""
    cmds = []
    for b in code_blocks(text):
        for line in command_lines(b):
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                part = re.sub(r"^(?:[A-Z_]+=\S+\s+)+", "", part.strip())
                if part.startswith("./pvfuzz"):
                    try:
                        cmds.append((line, shlex.split(part)[1:]))
                    except ValueError:
                        cmds.append((line, part.split()[1:]))
    return cmds


def help_text(sub):
    rc, out, err = sh([LAUNCHER, sub, "--help"])
    return out + err


def subcommands():
    rc, out, err = sh([LAUNCHER, "help"])
    subs = []
    for line in out.splitlines():
        m = re.match(r"^  ([a-z][a-z-]*)\b", line)
        if m and m.group(1) not in subs:
            subs.append(m.group(1))
    return subs, out


def options_in(text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))


def stress_help(protocol):
    for d in ("tsan", "std", "asan"):
        exe = os.path.join(SRC, "build", d, "stress", "pvfuzz-stress")
        if os.access(exe, os.X_OK):
            rc, out, err = sh([exe, protocol, "--help"], timeout=60)
            return out + err
    return None


def check_commands(text, problems, run):
    subs, _ = subcommands()
    helps = {}
    stressed = set()  # one stress run per protocol is enough to prove it runs
    for line, argv in launcher_commands(text):
        if not argv:
            continue
        sub = argv[0]
        if sub not in subs:
            problems.append("README runs `./pvfuzz %s`, which is not a subcommand (`./pvfuzz help`): %s" % (
                sub, line))
            continue
        if sub in ("help", "test"):
            continue
        if sub not in helps:
            helps[sub] = help_text(sub)
        known = options_in(helps[sub])
        if sub == "stress" and len(argv) > 1 and not argv[1].startswith("-"):
            known |= options_in(stress_help(argv[1]) or "")
        for o in [a.split("=", 1)[0] for a in argv[1:] if a.startswith("--")]:
            if o not in known:
                problems.append("`./pvfuzz %s` has no option %s (its --help): %s" % (sub, o, line))
        if run and not any(PLACEHOLDER.search(a) for a in argv):
            if sub == "stress":
                if argv[1] in stressed:
                    continue
                stressed.add(argv[1])
            run_one(sub, argv, line, problems)


def run_one(sub, argv, line, problems):
    """The commands a README reader can paste, run the quick way."""
    args = list(argv)
    if sub == "fuzz":
        args.append("--dry-run")
    elif sub == "stress":
        if "--duration" in args:
            i = args.index("--duration")
            args[i + 1] = "1"
        else:
            args += ["--duration", "1"]
    elif sub not in ("list", "replay"):
        return
    rc, out, err = sh([LAUNCHER] + args, timeout=1800)
    # stress: 1 an oracle fired, 66 TSan saw the same bug as a race (a README
    # example may run a buggy variant); replay: 1 an unexpected outcome
    ok = rc == 0 or (sub == "stress" and rc in (1, 66)) or (sub == "replay" and rc in (0, 1))
    if not ok:
        tail = " / ".join(l for l in err.splitlines() if l.strip() and not l.startswith("==>"))[-400:]
        problems.append("`%s` (run as ./pvfuzz %s) exits %d: %s" % (line, " ".join(args), rc, tail))


def check_paths(text, problems):
    tokens = set()
    for b in code_blocks(text):
        tokens.update(re.findall(r"[\w./+-]+", b))
    tokens.update(re.findall(r"`([^`\s]+)`", text))
    for t in sorted(tokens):
        t = t.rstrip(".,:;)")
        if not t.startswith(PATH_ROOTS) or PLACEHOLDER.search(t) or "*" in t and not glob.glob(
                os.path.join(SRC, t)):
            if t.startswith(PATH_ROOTS) and "*" in t and not PLACEHOLDER.search(t):
                problems.append("README names %s: nothing matches" % t)
            continue
        if "{" in t:  # a brace list: every member
            m = re.match(r"^(.*)\{([^}]*)\}(.*)$", t)
            names = [m.group(1) + x + m.group(3) for x in m.group(2).split(",")] if m else [t]
        else:
            names = [t]
        for n in names:
            if "*" in n:
                continue
            if not os.path.exists(os.path.join(SRC, n)):
                problems.append("README names %s, which does not exist" % n)
    for label, target in re.findall(r"\[([^\]]*)\]\(([^)]+)\)", text):
        target = target.split("#")[0]
        if not target or re.match(r"^[a-z]+://", target):
            continue
        if not os.path.exists(os.path.join(SRC, target)):
            problems.append("README links [%s](%s), which does not exist" % (label, target))


def check_coverage(text, problems):
    subs, usage = subcommands()
    for s in subs:
        if s != "help" and "./pvfuzz %s" % s not in text:
            problems.append("`./pvfuzz %s` exists but the README never shows it" % s)
    for o in sorted(options_in(usage)):
        if o not in text:
            problems.append("option %s (./pvfuzz help) is not in the README" % o)
    for s in subs:
        if s in ("help", "test"):
            continue
        for o in sorted(options_in(help_text(s)) - {"--help"}):
            if o not in text:
                problems.append("option %s of ./pvfuzz %s is not in the README" % (o, s))
    for f in sorted(glob.glob(os.path.join(SRC, "targets", "*.c"))):
        t = os.path.basename(f)[:-2]
        if t != "standalone_main" and "`%s`" % t not in text:
            problems.append("fuzz target %s is not in the README" % t)
    with open(os.path.join(SRC, "CMakePresets.json")) as f:
        presets = [p["name"] for p in json.load(f).get("configurePresets", []) if not p.get("hidden")]
    for p in presets:
        if "`%s`" % p not in text and p not in text:
            problems.append("CMake preset %s is not in the README" % p)
    with open(LAUNCHER) as f:
        launcher_src = f.read()
    for v in sorted(set(re.findall(r"\$\{?(PVFUZZ_[A-Z_]+)", launcher_src))):
        if v in ("PVFUZZ_FAKE_MISSING", "PVFUZZ_APT_SIMULATE"):  # test hooks
            continue
        if v not in text:
            problems.append("the launcher reads %s but the README does not say so" % v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", default=os.path.join(SRC, "README.md"))
    ap.add_argument("--run", action="store_true", help="also run the quick commands")
    a = ap.parse_args()
    if not os.access(LAUNCHER, os.X_OK):
        print("SKIPPED: no ./pvfuzz")
        return 77
    with open(a.readme) as f:
        text = f.read()
    problems = []
    check_commands(text, problems, a.run)
    check_paths(text, problems)
    check_coverage(text, problems)
    if problems:
        print("FAIL: %d README problem(s):\n  %s" % (len(problems), "\n  ".join(problems)), file=sys.stderr)
        return 1
    print("README: %d ./pvfuzz commands checked%s, paths and links exist, every subcommand, option, "
          "target, preset and variable named" % (len(launcher_commands(text)), " and run" if a.run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
