#!/bin/bash
# wn-timeout: 60
# The source tree's layers (t/lib/layers.py, doc/design-notes.md "Source
# tree"): no #include in src/, stages/ or include/ reaches a higher layer,
# a sibling layer or, from a built-in stage, past the public API.  The
# checker is first shown a small tree with one breach of each kind, so a
# checker that sees nothing fails here too.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
L="python3 $SRCDIR/t/lib/layers.py"

# A tree with known breaches.
mkdir -p bad/src/util bad/src/exec/planner bad/src/exec/actor bad/src/ckpt bad/src/net \
    bad/stages/io bad/include/winnow
touch bad/src/exec/planner/planner.h bad/src/exec/actor/actor.h bad/src/net/shuffle.h \
    bad/src/ckpt/ckpt.h bad/src/util/log.h
printf '#include "exec/planner/planner.h"\n#include "winnow/task.h"\n' >bad/src/util/log.c
printf '#include "exec/planner/planner.h"\n#include "util/log.h"\n' >bad/src/exec/actor/actor.c
printf '#include "net/shuffle.h"\n' >bad/src/ckpt/ckpt.c
printf '#include "log.h"\n' >bad/src/net/shuffle.c
printf '#include "util/log.h"\n#include "io/ok.h"\n' >bad/stages/io/read.c
touch bad/stages/io/ok.h
printf '#include "util/log.h"\n' >bad/include/winnow/stage.h
$L bad >bad.out 2>&1; st=$?
is "$st" 1 "the checker fails a tree with breaches"
for want in 'src/util/log.c:1: "exec/planner/planner.h": util is below exec' \
    'src/exec/actor/actor.c:1: "exec/planner/planner.h": exec/actor must not see exec/planner' \
    'src/ckpt/ckpt.c:1: "net/shuffle.h": ckpt and net are one level' \
    'src/net/shuffle.c:1: "log.h": name the header by its layer' \
    'stages/io/read.c:1: "util/log.h": a built-in stage sees only winnow/ and stages/' \
    'include/winnow/stage.h:1: "util/log.h": the public API includes only winnow/'; do
    ok $(grep -qF "$want" bad.out; echo $?) "breach found: ${want%%:*}"
done
is "$(wc -l <bad.out)" 6 "and nothing allowed is called a breach" || diag "$(cat bad.out)"

# The real tree.
$L "$SRCDIR" >tree.out 2>&1; st=$?
is "$st" 0 "src/, stages/ and include/ keep to the layers" || diag "$(cat tree.out)"
done_testing
