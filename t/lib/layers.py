#!/usr/bin/env python3
"""layers.py - checks that #include lines follow the source tree's layers.

    layers.py [--list] ROOT     check ROOT's src/, stages/ and include/
                                (exit 1 and one line per breach)

The layers, lowest first (doc/design-notes.md, "Source tree"):

    util  <-  task, gpu  <-  config  <-  stage  <-  ckpt, net  <-  exec  <-  cmd

A file may include its own folder's headers and those of lower layers.
Layers on one level (task and gpu; ckpt and net) see nothing of each
other.  Inside exec, the planner and the actor see exec/ and not each
other.  Built-in stages (stages/) see the public API (include/winnow/)
and stages/ only, as a plugin does; include/winnow/ sees only itself.
A header is named by its path under src/ ("util/log.h"); a bare name is
a breach too, since it hides which layer it comes from.
"""
import os
import re
import sys

RANK = {'util': 0, 'task': 1, 'gpu': 1, 'config': 2, 'stage': 3,
        'ckpt': 4, 'net': 4, 'exec': 5, 'cmd': 6}
# Headers that are not part of the tree: the configure result, and the
# public API (which every layer may use).
OUTSIDE = {'build-config.h'}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    """('exec', 'planner') for src/exec/planner/x.c; ('util', '') etc."""
    parts = rel.split('/')
    sub = parts[1] if parts[0] == 'exec' and len(parts) > 2 else ''
    return parts[0], sub


def breaches(root):
    out = []
    for top in ('src', 'stages', 'include'):
        base = os.path.join(root, top)
        for d, _, files in os.walk(base):
            for f in sorted(files):
                if not f.endswith(('.c', '.h', '.cu')):
                    continue
                path = os.path.join(d, f)
                rel = os.path.relpath(path, base)
                with open(path, encoding='utf-8') as fh:
                    text = fh.read()
                for m in INCLUDE.finditer(text):
                    line = text.count('\n', 0, m.start()) + 1
                    why = judge(root, top, rel, m.group(1))
                    if why:
                        out.append('%s/%s:%d: "%s": %s' % (top, rel, line, m.group(1), why))
    return out


def judge(root, top, rel, inc):
    if inc in OUTSIDE:
        return None
    if top == 'include':
        return None if inc.startswith('winnow/') else 'the public API includes only winnow/'
    if inc.startswith('winnow/'):
        return None
    if top == 'stages':
        here = os.path.dirname(os.path.join(root, 'stages', rel))
        if os.path.exists(os.path.join(root, 'stages', inc)):
            return None
        if os.path.exists(os.path.join(here, inc)) and '/' not in inc:
            return None
        return 'a built-in stage sees only winnow/ and stages/'
    if layer_of(rel)[0] == 'cmd' and inc == 'builtin.h':
        return None     # the program names the stages it links in
    if not os.path.exists(os.path.join(root, 'src', inc)):
        if '/' not in inc:
            return 'name the header by its layer (e.g. "util/log.h")'
        return 'no such header under src/'
    (mine, mysub), (theirs, theirsub) = layer_of(rel), layer_of(inc)
    if mine not in RANK or theirs not in RANK:
        return 'a folder outside the layers'
    if mine == theirs:
        if mine == 'exec' and mysub and theirsub and mysub != theirsub:
            return 'exec/%s must not see exec/%s' % (mysub, theirsub)
        if mine == 'exec' and not mysub and theirsub and not rel.endswith('exec.c'):
            return 'exec/ must not see exec/%s' % theirsub
        return None
    if RANK[theirs] < RANK[mine]:
        return None
    if RANK[theirs] == RANK[mine]:
        return '%s and %s are one level: neither sees the other' % (mine, theirs)
    return '%s is below %s' % (mine, theirs)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: layers.py ROOT\n')
        return 2
    found = breaches(argv[1])
    for b in found:
        print(b)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
