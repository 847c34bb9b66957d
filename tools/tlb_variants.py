#!/usr/bin/env python3
"""List the tlb_flush variants registered in src/mm/*.c (TLB_VARIANT blocks).

  tools/tlb_variants.py            markdown table (docs/tlb-variants.md)
  tools/tlb_variants.py expect V   the expected outcome of variant V
"""
import glob, os, re, sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def strings(body, key):
    m = re.search(r'\.' + key + r'\s*=\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', body)
    if not m:
        return ''
    return ''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))


def variants():
    out = []
    for f in sorted(glob.glob(os.path.join(root, 'src/mm/*.c'))):
        src = open(f).read()
        for m in re.finditer(r'TLB_VARIANT\((\w+),\s*(PV_\w+),\s*\w+,(.*?)\)\n', src, re.S):
            body = m.group(3)
            out.append(dict(name=m.group(1), role=m.group(2)[3:].lower(),
                            mainline='PV_MAINLINE' in body, bug=strings(body, 'bug'),
                            partner=strings(body, 'partner'), expect=strings(body, 'expect'),
                            history=strings(body, 'history'), scenario=strings(body, 'scenario'),
                            file=os.path.relpath(f, root)))
    return out


if len(sys.argv) == 3 and sys.argv[1] == 'expect':
    for v in variants():
        if v['name'] == sys.argv[2]:
            print(v['expect'])
            sys.exit(0)
    sys.exit(1)
print('| variant | role | bug | partner | expected (with its partner, mainline elsewhere) | history | scenario |')
print('|---|---|---|---|---|---|---|')
for v in variants():
    name = v['name'] + (' (mainline)' if v['mainline'] else '')
    cell = lambda s: s.replace('|', '\\|')
    print('| `%s` | %s | %s | %s | %s | %s | %s |' % (name, v['role'], v['bug'] or '-', v['partner'] or '-',
                                                   cell(v['expect']), cell(v['history']), cell(v['scenario'])))
