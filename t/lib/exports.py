#!/usr/bin/env python3
"""exports.py - the winnow executable exports the public API, no more.

    exports.py list ROOT            print the linker's dynamic list for
                                    the functions include/winnow/*.h declare
    exports.py check ROOT [WINNOW]  exit 1, with one line per difference,
                                    when src/cmd/winnow.dynlist is not that
                                    list, or when WINNOW's dynamic symbol
                                    table holds another wn_ symbol or
                                    lacks one of the list

Plugins resolve their wn_* calls against the executable (doc/guide.md,
"Writing a stage plugin"), so what it exports is the API a plugin can
link against: the functions the public headers declare, and nothing
internal.  The headers are read through the C preprocessor (`cc -E`), so
comments, macros and static inline functions do not count; a function
declared there is a top-level declaration whose declarator is wn_NAME(...).
"""
import glob
import os
import re
import subprocess
import sys

DECL = re.compile(r'\b(wn_\w+)\s*\(')


def declared(root):
    """Names of the functions include/winnow/*.h declare, sorted."""
    inc = os.path.join(root, 'include')
    names = set()
    for h in sorted(glob.glob(os.path.join(inc, 'winnow', '*.h'))):
        text = subprocess.run([os.environ.get('CC', 'cc'), '-E', '-P', '-I', inc, h],
                              check=True, capture_output=True, text=True).stdout
        depth, stmt = 0, ''
        for ch in text:
            if ch == '{':
                depth += 1
            elif ch == '}':
                depth -= 1
                if depth == 0:
                    stmt = ''          # end of a struct, enum or inline body
                continue
            if depth:
                continue
            if ch == ';':
                s = ' '.join(stmt.split())
                stmt = ''
                if s.startswith(('typedef', 'static')):
                    continue
                m = DECL.search(s)
                if m:
                    names.add(m.group(1))
            else:
                stmt += ch
    return sorted(names)


def dynlist(names):
    return '{\n' + ''.join('    %s;\n' % n for n in names) + '};\n'


def listed(path):
    with open(path, encoding='utf-8') as fh:
        text = re.sub(r'/\*.*?\*/', '', fh.read(), flags=re.S)
    return sorted(re.findall(r'\b(\w+)\s*;', text))


def exported(binary):
    out = subprocess.run(['nm', '-D', '--defined-only', binary], check=True,
                         capture_output=True, text=True).stdout
    return sorted({l.split()[-1] for l in out.splitlines() if l.split()
                   and l.split()[-1].startswith('wn_')})


def main(argv):
    if len(argv) < 3 or argv[1] not in ('list', 'check'):
        sys.stderr.write('usage: exports.py list ROOT | check ROOT [WINNOW]\n')
        return 2
    root = argv[2]
    names = declared(root)
    if argv[1] == 'list':
        sys.stdout.write(dynlist(names))
        return 0
    bad = []
    have = listed(os.path.join(root, 'src', 'cmd', 'winnow.dynlist'))
    bad += ['declared in include/winnow/ but not in winnow.dynlist: %s' % n
            for n in names if n not in have]
    bad += ['in winnow.dynlist but declared in no public header: %s' % n
            for n in have if n not in names]
    if len(argv) > 3:
        exp = exported(argv[3])
        bad += ['exported by %s but not in the public API: %s' % (argv[3], n)
                for n in exp if n not in names]
        bad += ['public but not exported by %s: %s' % (argv[3], n)
                for n in names if n not in exp]
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
