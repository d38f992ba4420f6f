#!/bin/bash
# wn-timeout: 120
# The tree is formatted with .clang-format (scripts/format.sh --check): a
# file written in another style fails here, and the check is shown one
# first so that a check that passes everything fails too.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"

command -v clang-format-14 >/dev/null ||
    bail_out "clang-format-14 is missing: scripts/install-deps.sh installs it"

# A copy of the script and style, over a tree of one badly formatted file.
mkdir -p tree/scripts tree/src/util
cp "$SRCDIR/scripts/format.sh" tree/scripts/ && cp "$SRCDIR/.clang-format" tree/
printf 'int  f( int x ){ return x+1; }\n' >tree/src/util/bad.c
sh tree/scripts/format.sh --check >bad.out 2>&1; st=$?
is "$st" 1 "a badly formatted file fails the check"
like "$(cat bad.out)" "src/util/bad.c: not formatted" "and is named"
sh tree/scripts/format.sh >/dev/null 2>&1 && sh tree/scripts/format.sh --check >/dev/null 2>&1
ok $? "format.sh formats it, after which the check passes"

sh "$SRCDIR/scripts/format.sh" --check >tree.out 2>&1; st=$?
is "$st" 0 "src/, stages/, include/, t/, bench/ and examples/ are formatted" ||
    diag "$(head -20 tree.out)"
done_testing
