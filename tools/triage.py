#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pvfuzz triage: replay findings, bucket them, minimize one per bucket, report.

usage: tools/triage.py [PATH...] [--out DIR] [--build-dir DIR] [--json]
                       [--no-minimize] [--max-replays N]

PATH is a findings tree (default: findings/), a findings file
findings/<target>/<variant-label>/crash-*, or a reproducer
corpora/regress/<target>/<variant>; the target and the variant pairing come
from the path as `./pvfuzz replay` takes them (a label a+b is the selection
a,b).  Every input is replayed by the standalone build (build/std/<target>
--trace-json), which reports the oracle, the violating access and the stores
it raced.  Inputs are bucketed by

    (oracle, site of the violating access as file:line:expr, variant label)

which depends on neither addresses nor step numbers, so the same bug found by
libFuzzer, AFL++ or by hand lands in one bucket.  The smallest input of each
bucket is minimized by delta debugging with the same replayer, keeping only
reductions that stay in the bucket, and the report is written to DIR
(default: triage/): index.html, one page per bucket with the SUMMARY line,
the trace window around the violation and an SVG timeline, the minimized
reproducer, summary.json and summary.txt.  Findings are only read, never
moved or changed.  Exit status: 0 done, 1 a replay failed (the harness
died), 2 usage.
"""
import argparse
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENT_NOTES = {
    "migrate": "migration",
    "host-preempt-vcpu": "host preempts vCPU",
    "host-resume-vcpu": "host resumes vCPU",
    "vcpu-exit-to-host": "guest exit",
    "vcpu-enter-guest": "guest entry",
    "ipi-handle": "IPI handled",
    "ipi-ack": "IPI acked",
    "ipi-hold": "IPI held",
    "preempt-to": "preempted",
}
STORE_OPS = ("store", "copy", "commit", "rmw")
ACCESS_OPS = ("load",) + STORE_OPS


class Usage(Exception):
    pass


class ReplayError(Exception):
    pass


# ------------------------------------------------------------ inputs --

def classify(path):
    """(target, selection) of one input from its path, or None."""
    p = os.path.realpath(path)
    m = re.search(r"/corpora/regress/([^/]+)/([^/]+)(?:/[^/]+)?$", p)
    if m:
        return m.group(1), m.group(2)
    m = re.search(r"/findings/([^/]+)/([^/]+)/[^/]+$", p)
    if m:
        return m.group(1), m.group(2).replace("+", ",")
    m = re.search(r"/corpora/([^/]+)/seeds/[^/]+$", p)
    if m:
        return m.group(1), "mainline"
    return None


def is_input_name(name):
    # libFuzzer/AFL++ artifacts and reproducers; not logs, temporaries or notes
    return not (name.startswith(".") or name.endswith(".log") or name.endswith(".json")
                or name in ("README", "README.md"))


def collect(paths):
    """[(path, target, selection)] for every input under paths."""
    out = []
    for p in paths:
        if not os.path.exists(p):
            raise Usage("no such file or directory '%s'" % p)
        if os.path.isfile(p):
            c = classify(p)
            if not c:
                raise Usage("cannot tell the target and variant of '%s' (want findings/<target>/"
                            "<variant>/FILE or corpora/regress/<target>/<variant>)" % p)
            out.append((p, c[0], c[1]))
            continue
        for d, dirs, files in os.walk(p):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            for f in sorted(files):
                fp = os.path.join(d, f)
                if not is_input_name(f) or not os.path.isfile(fp):
                    continue
                c = classify(fp)
                if c:
                    out.append((fp, c[0], c[1]))
    return out


# ------------------------------------------------------------ replay --

class Replayer:
    def __init__(self, build_dir, tmp):
        self.build_dir = build_dir
        self.tmp = tmp
        self.count = 0

    def exe(self, target):
        e = os.path.join(self.build_dir, target)
        if not (os.path.isfile(e) and os.access(e, os.X_OK)):
            raise ReplayError("no standalone replayer %s (build it: ./pvfuzz replay builds "
                              "build/std)" % e)
        return e

    def run(self, target, selection, path):
        """The replayer's JSON for one input."""
        self.count += 1
        out = os.path.join(self.tmp, "replay-%d.json" % self.count)
        env = dict(os.environ)
        env.pop("PVFUZZ_PRINT_HASH", None)
        env.pop("PVFUZZ_VARIANT", None)
        if selection != "mainline":
            env["PVFUZZ_VARIANT"] = selection
        try:
            p = subprocess.run([self.exe(target), "--trace-json", out, path], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=300)
        except subprocess.TimeoutExpired:
            raise ReplayError("%s: the replayer hung (300 s)" % path)
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode != 0 or not os.path.isfile(out):
            line = next((l for l in err.splitlines() if l.startswith("pvfuzz:")),
                        (err.strip().splitlines() or ["exit status %d" % p.returncode])[-1])
            raise ReplayError("%s: %s" % (path, line))
        with open(out) as f:
            d = json.load(f)
        os.unlink(out)
        return d


def site_str(rec):
    """file:line:expr of a record; a record without a site (the result note
    of an arithmetic target) is named by its op and note."""
    if not rec:
        return "-"
    s = rec.get("site")
    if not s:
        return "%s:%s" % (rec["op"], rec["expr"])
    return "%s:%d:%s" % (s["file"], s["line"], s["expr"])


def bucket_key(d):
    f = d.get("finding")
    if not f:
        return None
    return (f["oracle"], site_str(f.get("violation")), d["variant"])


# ---------------------------------------------------------- minimize --

def minimize(rep, target, selection, data, key, budget):
    """ddmin over the bytes: the smallest input found that stays in bucket key."""
    tries = [0]

    def same(cand):
        if tries[0] >= budget:
            return False
        tries[0] += 1
        p = os.path.join(rep.tmp, "cand")
        with open(p, "wb") as f:
            f.write(cand)
        try:
            return bucket_key(rep.run(target, selection, p)) == key
        except ReplayError:
            return False  # a candidate that kills the harness is not in the bucket

    n = 2
    while len(data) >= 2 and tries[0] < budget:
        chunk = max(1, len(data) // n)
        parts = [data[i:i + chunk] for i in range(0, len(data), chunk)]
        reduced = False
        for i in range(len(parts)):  # a complement: drop one part
            cand = b"".join(parts[:i] + parts[i + 1:])
            if cand and same(cand):
                data, n, reduced = cand, max(n - 1, 2), True
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(data), n * 2)
    # then simpler bytes: zero what need not be set
    i = 0
    while i < len(data) and tries[0] < budget:
        if data[i] != 0:
            cand = data[:i] + b"\0" + data[i + 1:]
            if same(cand):
                data = cand
        i += 1
    return data, tries[0]


# ------------------------------------------------------------- views --

def who(rec):
    if rec["fiber"] < 0:
        return "main"
    if rec["vcpu"] == "host":
        return "host/%s" % rec["name"]
    return "cpu%s/%s" % (rec["vcpu"], rec["name"])


def event_label(r):
    """A short label if the record is an event the timeline marks, else None."""
    if r["op"] == "vmexit":
        return "VM exit"
    if r["op"] != "event":
        return None
    e = r["expr"]
    if e == "scenario-event":
        ev = r.get("event", "scenario")
        return {"tsc-freq-change": "TSC freq change", "writer-kick": "writer kick"}.get(ev, ev)
    if e == "ipi-send":
        return "IPI send"
    if e == "ipi-wait-ack":
        return None
    cpu = int(r["value"], 16)
    cpu = "all vCPUs" if cpu >= 1 << 63 else "vCPU%d" % cpu
    if e == "migrate":
        return "migrated to %s" % cpu
    if e in ("host-preempt-vcpu", "host-resume-vcpu"):
        return "host %s %s" % ("preempts" if e == "host-preempt-vcpu" else "resumes", cpu)
    if e in ("vcpu-exit-to-host", "vcpu-enter-guest"):
        verb = ("exit" if e == "vcpu-exit-to-host" else "enter") + ("" if cpu.startswith("all") else "s")
        return "%s %s %s" % (cpu, verb, "to host" if e == "vcpu-exit-to-host" else "guest")
    return EVENT_NOTES.get(e, e)


def window_records(d, context=40):
    """The records around the violation a reader needs: the window's
    involved accesses, raced stores and events, plus the last `context`."""
    recs = d["records"]
    vseq = d.get("violation_seq")
    if vseq is None:
        return recs[-context:]
    vi = next((i for i, r in enumerate(recs) if r["seq"] == vseq), len(recs) - 1)
    lo_step = min([d.get("window_from_step", 0)] + [r["step"] for r in recs if r.get("raced")])
    keep = []
    for i, r in enumerate(recs[:vi + 1 + 3]):
        near = i >= vi - context
        inwin = r["step"] >= lo_step
        if near or (inwin and (r.get("involved") or r.get("raced") or event_label(r))):
            keep.append(r)
    return keep


def trace_table(recs):
    rows = []
    for r in recs:
        cls = "viol" if r.get("violation") else "raced" if r.get("raced") else \
            "inv" if r.get("involved") else "ev" if event_label(r) else ""
        mark = "violation" if r.get("violation") else "raced store" if r.get("raced") else ""
        s = r.get("site")
        rows.append("<tr class='%s'><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                    "<td>%s</td><td>%s</td></tr>" % (
                        cls, r["step"], html.escape(who(r)),
                        html.escape("%s:%d" % (s["file"], s["line"]) if s else "-"),
                        html.escape(r["op"]), html.escape(r["expr"]), html.escape(r["value"]),
                        mark))
    return ("<table class='trace'><tr><th>step</th><th>vcpu/fiber</th><th>site</th><th>op</th>"
            "<th>field</th><th>value</th><th></th></tr>\n%s\n</table>" % "\n".join(rows))


def trace_text(recs):
    out = ["%6s  %-22s %-26s %-7s %-34s %s" % ("step", "vcpu/fiber", "site", "op", "field", "value")]
    for r in recs:
        s = r.get("site")
        out.append("%6d  %-22s %-26s %-7s %-34s %s%s" % (
            r["step"], who(r), "%s:%d" % (s["file"], s["line"]) if s else "-", r["op"], r["expr"],
            r["value"], "   <== violation" if r.get("violation") else
            "   <-- raced store" if r.get("raced") else ""))
    return "\n".join(out)


def esc(s):
    return html.escape(str(s), quote=True)


def nice_ticks(lo, hi, n=10):
    span = max(1, hi - lo)
    raw = span / n
    mag = 10 ** max(0, len(str(int(raw))) - 1)
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = (lo + step - 1) // step * step
    return list(range(first, hi + 1, step))


class Rows:
    """Greedy placement of labels in rows so that neighbours never overlap."""

    def __init__(self, nrows):
        self.ends = [-1e9] * nrows

    def place(self, x0, x1):
        for i, e in enumerate(self.ends):
            if e < x0:
                self.ends[i] = x1
                return i
        return None


def svg_timeline(d):
    """One lane per fiber on a shared step axis: the fields involved, the
    violating access, the stores it raced, and the events.  Marks that tell
    the story (the violating fiber's own accesses to the fields, the raced
    stores, the violation) carry a number explained in the key under the plot."""
    recs = d["records"]
    vseq = d.get("violation_seq")
    viol = next((r for r in recs if r["seq"] == vseq), None)
    if viol is None:  # the oracle fired before anything was traced (a set-up check)
        f = d["finding"]
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="900" height="70" viewBox="0 0 900 70" '
                'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">'
                '<rect x="0" y="0" width="900" height="70" fill="#ffffff"/>'
                '<text x="10" y="20" font-size="15" font-weight="bold">%s: no access traced before the '
                'oracle fired</text><text x="10" y="44" fill="#444">%s</text></svg>' % (
                    esc(f["oracle"]), esc(f["detail"][:140])))
    lo = min([d.get("window_from_step", 0)] + [r["step"] for r in recs if r.get("raced")])
    hi = viol["step"]
    lo = max(0, lo - max(2, (hi - lo) // 20))
    hi = hi + max(2, (hi - lo) // 40)
    win = [r for r in recs if lo <= r["step"] <= hi and r["seq"] <= vseq + 3]
    fibers = {}
    for r in win:
        if (r["fiber"] >= 0 or r is viol) and (r["fiber"] not in fibers or r["seq"] <= vseq):
            fibers[r["fiber"]] = r  # the lane shows where the fiber was last
        if r.get("subject") is not None and r["subject"] not in fibers:
            fibers[r["subject"]] = dict(r, fiber=r["subject"], name=r["subject_name"])
    order = sorted(fibers)
    lane_of = {f: i for i, f in enumerate(order)}
    left, right, top, lane_h = 170, 40, 64, 96
    width = 1240
    plot_w = width - left - right
    span = max(1, hi - lo)

    def x(step):
        return left + (step - lo) * plot_w / span

    def y(fiber):
        return top + lane_h * lane_of[fiber] + lane_h / 2 + 14

    # the numbered marks, in step order
    story = [r for r in win if r["fiber"] in lane_of and (r["op"] in ACCESS_OPS or r.get("violation")) and (
        r.get("raced") or r.get("violation") or (r.get("involved") and r["fiber"] == viol["fiber"]))]
    if len(story) > 40:  # keep the violation, the raced stores and the latest reads
        must = [r for r in story if r.get("raced") or r.get("violation")]
        rest = [r for r in story if r not in must][-(40 - len(must)):] if len(must) < 40 else []
        story = sorted(must + rest, key=lambda r: r["seq"])
    num = {r["seq"]: i + 1 for i, r in enumerate(story)}
    key_cols = 2
    key_rows = (len(story) + key_cols - 1) // key_cols
    plot_bottom = top + lane_h * len(order)
    ay = plot_bottom + 10
    legend_y = ay + 56
    key_y = legend_y + 50
    height = key_y + 16 * key_rows + 40

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">' % (width, height, width, height),
         '<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>' % (width, height)]
    f = d["finding"]
    o.append('<text x="10" y="20" font-size="15" font-weight="bold">%s: violating access at %s</text>' % (
        esc(f["oracle"]), esc(site_str(viol))))
    o.append('<text x="10" y="40" fill="#444">variant pairing %s, steps %d-%d of %s</text>' % (
        esc(d["variant"]), lo, hi, esc(os.path.basename(d["input"]))))
    for fb in order:
        yy = y(fb)
        band = "#f4f4f4" if lane_of[fb] % 2 == 0 else "#ffffff"
        o.append('<rect x="0" y="%.1f" width="%d" height="%d" fill="%s"/>' % (
            yy - lane_h / 2 - 14, width, lane_h, band))
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#bbbbbb"/>' % (
            left, yy, width - right, yy))
        o.append('<text x="10" y="%.1f" font-weight="bold">%s</text>' % (yy + 4, esc(who(fibers[fb]))))
    # step axis
    o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>' % (left, ay, width - right, ay))
    for st in nice_ticks(lo, hi):
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000"/>' % (x(st), ay, x(st), ay + 5))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(st), ay + 18, st))
    o.append('<text x="%d" y="%d" fill="#444">step (one scheduling point; 100 ns of true time)</text>' % (
        left, ay + 36))
    # IRQ-off sections: a band on the fiber's lane (an IPI waits for its end)
    irq_from = {}
    for r in win + [None]:
        if r is not None and (r["op"] != "irq" or r["fiber"] not in lane_of):
            continue
        ends = list(irq_from.items()) if r is None else []
        if r is not None:
            off = int(r["value"], 16) != 0
            if off and r["fiber"] not in irq_from:
                irq_from[r["fiber"]] = r["step"]
            elif not off and r["fiber"] in irq_from:
                ends = [(r["fiber"], irq_from.pop(r["fiber"]))]
        for fb, st in ends:
            end = r["step"] if r is not None else hi
            yy = y(fb)
            o.append('<rect x="%.1f" y="%.1f" width="%.1f" height="16" fill="#ffcf3f" fill-opacity="0.35">'
                     '<title>IRQs off, steps %d-%d</title></rect>' % (x(st), yy - 8, max(2, x(end) - x(st)),
                                                                       st, end))
            o.append('<text x="%.1f" y="%.1f" font-size="9" fill="#8a6d00">IRQs off</text>' % (x(st) + 2, yy - 10))
    # other activity of each fiber: thin grey ticks
    for r in win:
        if r["fiber"] in lane_of and r["seq"] not in num and not r.get("involved") \
                and r["op"] in ACCESS_OPS + ("fence", "rdtsc", "irq", "relax"):
            yy = y(r["fiber"])
            o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c8c8c8"/>' % (
                x(r["step"]), yy - 6, x(r["step"]), yy + 6))
    # events: a dashed line across the lanes, a marker and a label on the lane concerned
    ev_rows = {fb: Rows(2) for fb in order}
    for r in win:
        lab = event_label(r)
        fb = r.get("subject", r["fiber"])
        if not lab or fb not in lane_of:
            continue
        xx, yy = x(r["step"]), y(fb)
        o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#7b3fa0" stroke-dasharray="3,3" '
                 'stroke-opacity="0.5"/>' % (xx, top, xx, plot_bottom))
        o.append('<path d="M %.1f %.1f l 5 -9 l -10 0 z" fill="#7b3fa0"><title>%s</title></path>' % (
            xx, yy - 30, esc("%s at step %d (%s)" % (lab, r["step"], who(r)))))
        w = 5.6 * len(lab)
        row = ev_rows[fb].place(xx - w / 2, xx + w / 2 + 4)
        if row is not None:
            o.append('<text x="%.1f" y="%.1f" fill="#7b3fa0" font-size="10" text-anchor="middle">%s</text>' % (
                xx, yy - 42 - 11 * row, esc(lab)))
    # accesses to the fields involved
    vx, vy = x(viol["step"]), y(viol["fiber"])
    for r in win:
        if r["fiber"] not in lane_of or (r["op"] not in ACCESS_OPS and not r.get("violation")):
            continue
        if not (r.get("involved") or r.get("raced") or r.get("violation")):
            continue
        if r.get("raced"):
            o.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#d00000" stroke-opacity="0.3" '
                     'stroke-width="1.5"/>' % (x(r["step"]), y(r["fiber"]), vx, vy))
    num_rows = {fb: Rows(3) for fb in order}
    for r in win:
        if r["fiber"] not in lane_of or (r["op"] not in ACCESS_OPS and not r.get("violation")):
            continue
        if not (r.get("involved") or r.get("raced") or r.get("violation")):
            continue
        xx, yy = x(r["step"]), y(r["fiber"])
        tip = esc("step %d %s %s %s = %s at %s" % (r["step"], who(r), r["op"], r["expr"], r["value"],
                                                  site_str(r)))
        if r.get("violation"):
            o.append('<circle cx="%.1f" cy="%.1f" r="11" fill="none" stroke="#d00000" '
                     'stroke-width="3"><title>%s</title></circle>' % (xx, yy, tip))
            o.append('<circle cx="%.1f" cy="%.1f" r="5" fill="#d00000"/>' % (xx, yy))
        elif r["op"] == "load":
            o.append('<circle cx="%.1f" cy="%.1f" r="4.5" fill="#1f5fbf"><title>%s</title></circle>' % (
                xx, yy, tip))
        else:
            raced = r.get("raced")
            o.append('<rect x="%.1f" y="%.1f" width="10" height="10" fill="%s" stroke="%s" '
                     'stroke-width="%d"><title>%s</title></rect>' % (
                         xx - 5, yy - 5, "#e07000" if raced else "#f3c48e",
                         "#b00000" if raced else "none", 2 if raced else 0, tip))
    # numbers under the marks; marks of one fiber at one step share a label "a-b"
    groups = {}
    for r in story:
        groups.setdefault((r["fiber"], r["step"]), []).append(r)
    for (fb, step), rs in sorted(groups.items(), key=lambda kv: num[kv[1][0]["seq"]]):
        ns = [num[r["seq"]] for r in rs]
        text = str(ns[0]) if len(ns) == 1 else "%d-%d" % (ns[0], ns[-1])
        xx, yy = x(step), y(fb)
        w = 7 * len(text)
        row = num_rows[fb].place(xx - w / 2, xx + w / 2 + 1)
        if row is None:
            row = 2
        color = "#d00000" if any(r.get("violation") or r.get("raced") for r in rs) else "#1f5fbf"
        o.append('<text x="%.1f" y="%.1f" fill="%s" font-size="11" font-weight="bold" '
                 'text-anchor="middle">%s</text>' % (xx, yy + 24 + 12 * row, color, text))
    # legend
    items = [("circle", "#1f5fbf", "load of a field involved"),
             ("rect", "#f3c48e", "store to it"),
             ("raced", "#e07000", "store the violating access raced"),
             ("viol", "#d00000", "the violating access"),
             ("irq", "#ffcf3f", "IRQs off"),
             ("event", "#7b3fa0", "event: migration, host preemption, IPI, VM exit, guest entry/exit, freq change")]
    lx, ly = 10, legend_y
    for kind, color, text in items:
        if lx + 30 + 6.4 * len(text) > width:
            lx, ly = 10, ly + 18
        if kind == "circle":
            o.append('<circle cx="%d" cy="%d" r="4.5" fill="%s"/>' % (lx + 5, ly - 4, color))
        elif kind in ("rect", "raced"):
            o.append('<rect x="%d" y="%d" width="10" height="10" fill="%s" stroke="%s" stroke-width="%d"/>' % (
                lx, ly - 9, color, "#b00000" if kind == "raced" else "none", 2 if kind == "raced" else 0))
        elif kind == "viol":
            o.append('<circle cx="%d" cy="%d" r="7" fill="none" stroke="%s" stroke-width="3"/>' % (
                lx + 5, ly - 4, color))
        elif kind == "irq":
            o.append('<rect x="%d" y="%d" width="14" height="10" fill="%s" fill-opacity="0.35"/>' % (
                lx, ly - 9, color))
        else:
            o.append('<path d="M %d %d l 5 -9 l -10 0 z" fill="%s"/>' % (lx + 5, ly + 1, color))
        o.append('<text x="%d" y="%d">%s</text>' % (lx + 17, ly, esc(text)))
        lx += 30 + int(6.4 * len(text))
    # the key: what each number is
    colw = (width - 20) // key_cols
    for i, r in enumerate(story):
        kx = 10 + colw * (i // key_rows)
        ky = key_y + 16 * (i % key_rows)
        color = "#d00000" if r.get("violation") or r.get("raced") else "#1f5fbf"
        s = r.get("site")
        text = "step %d %s %s: %s %s = %s" % (r["step"], who(r), "%s:%d" % (s["file"], s["line"])
                                             if s else "-", r["op"], r["expr"], r["value"])
        if r.get("violation"):
            text = "VIOLATION " + text
        maxc = int(colw / 6.6) - 4
        text = text if len(text) <= maxc else text[:maxc - 1] + "\u2026"
        o.append('<text x="%d" y="%d" font-size="11"><tspan fill="%s" font-weight="bold">%2d</tspan> '
                 '<tspan font-family="DejaVu Sans Mono, monospace">%s</tspan></text>' % (
                     kx, ky, color, num[r["seq"]], esc(text)))
    det = f["detail"] if len(f["detail"]) < 180 else f["detail"][:177] + "..."
    o.append('<text x="10" y="%d" fill="#444">%s</text>' % (height - 14, esc("oracle: " + det)))
    o.append("</svg>")
    return "\n".join(o)


CSS = """body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#111}
code,pre,table.trace{font-family:DejaVu Sans Mono,monospace;font-size:12px}
table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}
tr.viol{background:#ffd6d6;font-weight:bold}tr.raced{background:#ffe8cc}tr.inv{background:#eef4ff}
tr.ev{color:#7b3fa0}pre.summary{background:#f4f4f4;padding:8px;white-space:pre-wrap}"""


def page(title, body):
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>%s</title>"
            "<style>%s</style></head><body>\n%s\n</body></html>\n" % (esc(title), CSS, body))


# -------------------------------------------------------------- main --

def atomic_write(path, data, mode="w"):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def triage(args):
    paths = args.paths or [os.path.join(ROOT, "findings")]
    if not args.paths and not os.path.isdir(paths[0]):
        raise Usage("no findings/ here yet (run ./pvfuzz fuzz first, or name a PATH)")
    inputs = collect(paths)
    if not inputs:
        raise Usage("no findings under %s" % " ".join(paths))
    tmp = tempfile.mkdtemp(prefix="pvfuzz-triage-")
    rep = Replayer(args.build_dir, tmp)
    buckets, quiet, errors = {}, [], []
    try:
        for path, target, sel in inputs:
            try:
                d = rep.run(target, sel, path)
            except ReplayError as ex:
                errors.append({"input": path, "target": target, "selection": sel, "error": str(ex)})
                continue
            key = bucket_key(d)
            size = d["input_size"]
            if key is None:
                quiet.append({"input": path, "target": target, "selection": sel,
                              "variant": d["variant"], "trace_hash": d["trace_hash"]})
                continue
            b = buckets.setdefault((target,) + key, {"target": target, "selection": sel,
                                                     "oracle": key[0], "site": key[1],
                                                     "variant": key[2], "inputs": []})
            b["inputs"].append({"input": path, "size": size, "trace_hash": d["trace_hash"]})
        out_parent = os.path.dirname(os.path.abspath(args.out)) or "."
        os.makedirs(out_parent, exist_ok=True)
        stage = tempfile.mkdtemp(prefix=".triage-", dir=out_parent)
        summary = []
        for k in sorted(buckets):
            b = buckets[k]
            bid = "%s-%s-%s" % (b["target"], b["oracle"],
                                hashlib.sha1("\0".join(k).encode()).hexdigest()[:8])
            b["inputs"].sort(key=lambda e: (e["size"], e["input"]))
            best = b["inputs"][0]
            with open(best["input"], "rb") as f:
                data = f.read()
            tries = 0
            if not args.no_minimize:
                data, tries = minimize(rep, b["target"], b["selection"], data, k[1:], args.max_replays)
            bdir = os.path.join(stage, bid)
            os.makedirs(bdir)
            atomic_write(os.path.join(bdir, "repro"), data, "wb")
            d = rep.run(b["target"], b["selection"], os.path.join(bdir, "repro"))
            check_key = bucket_key(d)
            if check_key != k[1:]:
                raise ReplayError("%s: the minimized input left its bucket (%s)" % (bid, check_key))
            d["input"] = os.path.join(args.out, bid, "repro")
            atomic_write(os.path.join(bdir, "trace.json"), json.dumps(d, indent=1))
            svg = svg_timeline(d)
            if svg:
                atomic_write(os.path.join(bdir, "timeline.svg"), svg)
            win = window_records(d)
            atomic_write(os.path.join(bdir, "trace.txt"), trace_text(win) + "\n")
            f = d["finding"]
            summary_line = "SUMMARY: pvfuzz: %s variant=%s %s" % (f["oracle"], d["variant"], f["detail"])
            rel_repro = os.path.relpath(os.path.join(args.out, bid, "repro"), os.getcwd())
            if rel_repro.startswith(".."):
                rel_repro = os.path.join(args.out, bid, "repro")
            replay_cmd = "./pvfuzz replay %s --target %s --variant %s --trace" % (
                rel_repro, b["target"], b["selection"])
            ent = {"bucket": bid, "target": b["target"], "oracle": b["oracle"], "site": b["site"],
                   "variant": b["variant"], "selection": b["selection"], "count": len(b["inputs"]),
                   "inputs": [e["input"] for e in b["inputs"]], "smallest": best["input"],
                   "smallest_size": best["size"], "minimized_size": len(data),
                   "minimize_replays": tries, "trace_hash": d["trace_hash"],
                   "violation": f.get("violation"), "summary": summary_line,
                   "raced": [r for r in d["records"] if r.get("raced")],
                   "repro": os.path.join(args.out, bid, "repro"), "replay": replay_cmd}
            summary.append(ent)
            body = ["<p><a href='../index.html'>all buckets</a></p>",
                    "<h1>%s <small>at %s</small></h1>" % (esc(b["oracle"]), esc(b["site"])),
                    "<pre class='summary'>%s</pre>" % esc(summary_line),
                    "<p>variant pairing <code>%s</code>; %d finding(s) in this bucket; smallest %d "
                    "bytes, minimized to %d bytes (%d replays). Replay: <code>%s</code></p>" % (
                        esc(b["variant"]), len(b["inputs"]), best["size"], len(data), tries,
                        esc(replay_cmd)),
                    "<h2>Timeline</h2>",
                    "<p>One lane per vCPU task or host fiber; the fields the violating access and its "
                    "operation read, the stores to them by others, and events. Hover a mark for its "
                    "site.</p>",
                    svg or "<p>(no violating access recorded)</p>",
                    "<h2>Trace around the violation</h2>",
                    "<p>Highlighted: the violating access (red), the stores it raced (orange), other "
                    "accesses to the same fields (blue), events (purple).</p>",
                    trace_table(win),
                    "<h2>Findings in this bucket</h2><ul>%s</ul>" % "".join(
                        "<li><code>%s</code> (%d bytes)</li>" % (esc(e["input"]), e["size"])
                        for e in b["inputs"])]
            atomic_write(os.path.join(bdir, "index.html"), page("%s: %s" % (bid, b["oracle"]), "\n".join(body)))
        rows = "".join(
            "<tr><td><a href='%s/index.html'>%s</a></td><td>%s</td><td><code>%s</code></td>"
            "<td><code>%s</code></td><td>%d</td><td>%d &#8594; %d</td></tr>" % (
                esc(e["bucket"]), esc(e["bucket"]), esc(e["oracle"]), esc(e["site"]), esc(e["variant"]),
                e["count"], e["smallest_size"], e["minimized_size"]) for e in summary)
        body = ["<h1>pvfuzz triage</h1>",
                "<p>%d input(s): %d bucket(s), %d without a finding in the standalone replayer, %d "
                "replay error(s). Buckets are (oracle, site of the violating access, variant pairing)."
                "</p>" % (len(inputs), len(summary), len(quiet), len(errors)),
                "<table><tr><th>bucket</th><th>oracle</th><th>violating access</th><th>variant pairing"
                "</th><th>findings</th><th>bytes (smallest &#8594; minimized)</th></tr>%s</table>" % rows]
        if quiet:
            body.append("<h2>No finding on replay</h2><p>These inputs replay without an oracle in the "
                        "standalone build (a sanitizer-only finding, or a fixed bug):</p><ul>%s</ul>" % "".join(
                            "<li><code>%s</code> (%s)</li>" % (esc(q["input"]), esc(q["variant"])) for q in quiet))
        if errors:
            body.append("<h2>Replay errors</h2><ul>%s</ul>" % "".join(
                "<li><code>%s</code></li>" % esc(e["error"]) for e in errors))
        atomic_write(os.path.join(stage, "index.html"), page("pvfuzz triage", "\n".join(body)))
        result = {"format": "pvfuzz-triage-1", "inputs": len(inputs), "buckets": summary,
                  "no_finding": quiet, "errors": errors}
        atomic_write(os.path.join(stage, "summary.json"), json.dumps(result, indent=1) + "\n")
        text = summary_text(result, args.out)
        atomic_write(os.path.join(stage, "summary.txt"), text)
        # swap the new report in; the old one goes only once the new one is complete
        old = None
        if os.path.exists(args.out):
            old = tempfile.mkdtemp(prefix=".triage-old-", dir=out_parent)
            os.rename(args.out, os.path.join(old, "x"))
        os.rename(stage, args.out)
        if old:
            shutil.rmtree(old, ignore_errors=True)
        if args.json:
            sys.stdout.write(json.dumps(result, indent=1) + "\n")
        else:
            sys.stdout.write(text)
        return 1 if errors else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if "stage" in locals() and os.path.isdir(stage):
            shutil.rmtree(stage, ignore_errors=True)


def summary_text(result, out):
    lines = ["%d input(s), %d bucket(s):" % (result["inputs"], len(result["buckets"]))]
    for e in result["buckets"]:
        lines.append("  %-44s %d finding(s), %d -> %d bytes" % (e["bucket"], e["count"],
                                                              e["smallest_size"], e["minimized_size"]))
        lines.append("      %s" % e["summary"][:200])
        lines.append("      violating access %s; replay: %s" % (e["site"], e["replay"]))
    for q in result["no_finding"]:
        lines.append("  no finding on replay: %s (%s)" % (q["input"], q["variant"]))
    for q in result["errors"]:
        lines.append("  replay error: %s" % q["error"])
    lines.append("report: %s" % os.path.join(out, "index.html"))
    return "\n".join(lines) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(prog="./pvfuzz triage", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", metavar="PATH")
    ap.add_argument("--out", default=os.path.join(ROOT, "triage"))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "std"))
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    ap.add_argument("--no-minimize", action="store_true")
    ap.add_argument("--max-replays", type=int, default=2000,
                    help="replays spent minimizing one bucket (default 2000)")

    def error(msg):
        raise Usage(msg)
    ap.error = error
    try:
        args = ap.parse_args(argv)
        if args.max_replays < 0:
            raise Usage("--max-replays wants a count >= 0")
        args.out = os.path.abspath(args.out)
        return triage(args)
    except Usage as ex:
        print("pvfuzz: triage: %s" % ex, file=sys.stderr)
        return 2
    except ReplayError as ex:
        print("pvfuzz: triage: %s" % ex, file=sys.stderr)
        return 1
    except OSError as ex:
        print("pvfuzz: triage: %s: %s" % (ex.filename or "", ex.strerror), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
