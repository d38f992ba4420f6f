#!/bin/sh
# What the winnow executable exports to stage plugins: the functions the
# public headers declare (src/cmd/winnow.dynlist), and no internal wn_
# symbol.  t/lib/exports.py compares the headers, the list and the
# binary's dynamic symbol table; a plugin that calls an internal function
# fails to load.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP" || bail_out "no scratch dir"
EXPORTS=$SRCDIR/t/lib/exports.py

out=$(python3 "$EXPORTS" check "$SRCDIR" "$WINNOW" 2>&1); st=$?
ok $st "winnow.dynlist is the public headers' functions, and winnow exports just those" ||
    diag "$out"
n=$(nm -D --defined-only "$WINNOW" | awk '$NF ~ /^wn_/' | wc -l)
m=$(python3 "$EXPORTS" list "$SRCDIR" | grep -c ';$' )
is "$n" "$((m - 1))" "winnow exports $((m - 1)) wn_ functions, as many as the headers declare"
nm -D --defined-only "$WINNOW" | awk '{print $NF}' | grep -qx wn_config_load; st=$?
is $st 1 "an internal function (wn_config_load) is not exported"

# The checker itself must be able to fail: a header declaring one more
# function than the list, and a binary exporting one that is internal.
mkdir -p fake/include/winnow fake/src/cmd
cp "$SRCDIR"/include/winnow/*.h fake/include/winnow/
cp "$SRCDIR/src/cmd/winnow.dynlist" fake/src/cmd/
printf '#include "winnow/error.h"\nint wn_brand_new(void);\n' >fake/include/winnow/new.h
out=$(python3 "$EXPORTS" check fake 2>&1); st=$?
is $st 1 "a function added to a header but not to the list fails the check"
like "$out" "not in winnow.dynlist: wn_brand_new" "and names it"
rm fake/include/winnow/new.h
sed 's/^    wn_stage_log;$/&\n    wn_config_load;/' "$SRCDIR/src/cmd/winnow.dynlist" >fake/src/cmd/winnow.dynlist
out=$(python3 "$EXPORTS" check fake 2>&1); st=$?
is $st 1 "an internal function in the list fails the check"
like "$out" "declared in no public header: wn_config_load" "and names it"
cat >leak.c <<'C'
int wn_internal_thing(void);
int wn_internal_thing(void) { return 1; }
int main(void) { return 0; }
C
cc -rdynamic -o leak leak.c
out=$(python3 "$EXPORTS" check "$SRCDIR" "$PWD/leak" 2>&1); st=$?
is $st 1 "a binary exporting an internal wn_ function fails the check"
like "$out" "not in the public API: wn_internal_thing" "and names it"

done_testing
