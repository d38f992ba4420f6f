#!/bin/bash
# wn-timeout: 240
# Stage lifecycle on real ranks: setup_on_node once per node per stage
# before any setup, setup once per actor, teardown once per actor;
# `winnow plan`; stage plugins loaded with dlopen.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
mkdir probe
cat >life.yaml <<YAML
name: life
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 12}}
  - {name: first, type: teststages.so:probe, params: {dir: $TEST_TMP/probe}}
  - {name: second, type: teststages.so:probe, num_workers: 2, params: {dir: $TEST_TMP/probe}}
YAML
out=$(mpirun_np 4 "$WINNOW" run life.yaml --progress off 2>&1); st=$?
ok $st "4 ranks: run exits 0" || diag "$out"
is "$(wc -l <probe/first.node_setup)" 1 "setup_on_node ran once on the one node (stage first)"
is "$(wc -l <probe/second.node_setup)" 1 "setup_on_node ran once on the one node (stage second)"
is "$(wc -l <probe/first.setup)" 3 "setup ran once per actor (3 actors)"
is "$(wc -l <probe/second.setup)" 2 "num_workers 2: setup ran on 2 actors"
is "$(wc -l <probe/first.teardown)" 3 "teardown once per actor"
is "$(sort -u probe/first.setup | awk '{print $2}' | sort -n | tr '\n' ' ')" "1 2 3 " "actors are ranks 1-3, not the planner"
like "$(cat probe/first.node_setup)" "^node 0 .* actors 3 " "setup_on_node sees the node's actor count"
is "$(awk '{s+=$4} END {print s}' probe/first.batches)" 12 "12 tasks processed by stage first"

rm -f probe/*
out=$("$WINNOW" run life.yaml --progress off 2>&1); st=$?
ok $st "alone: run exits 0" || diag "$out"
is "$(cat probe/first.setup | awk '{print $2}')" 0 "alone, rank 0 is the actor"

out=$(mpirun_np 4 "$WINNOW" plan life.yaml 2>&1); st=$?
ok $st "winnow plan exits 0" || diag "$out"
like "$out" "pipeline life: 3 stages on 4 ranks" "plan: pipeline and ranks"
like "$out" "1\. generate \(fanout\)" "plan: first stage"
like "$out" "actors: 2 at most .* on ranks 1,2" "plan: num_workers caps stage second"
like "$out" "dir: .*probe" "plan: resolved parameters"

# A plugin stage, built from examples/plugin/ with the installed-headers
# style include path.
plugin="$BUILDDIR/examples/plugin/uppercase.so"
[ -f "$plugin" ]; ok $? "the example plugin was built" || diag "missing $plugin"
cat >plug.yaml <<YAML
name: plug
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 3, rows: 2}}
  - {name: upper, type: $plugin, params: {column: text}}
YAML
out=$(mpirun_np 4 "$WINNOW" run plug.yaml --results plug.jsonl --progress off 2>&1); st=$?
ok $st "pipeline with a plugin stage runs" || diag "$out"
is "$(grep -c '"text":"ITEM [0-9]"' plug.jsonl)" 6 "the plugin upper-cased all 6 rows"
out=$("$WINNOW" run plug.yaml --set "stages.upper.type=$plugin:nosuch" 2>&1); st=$?
is $st 2 "a plugin without the named type: exit 2"
like "$out" "has no stage type 'nosuch'" "error names the missing type"
out=$("$WINNOW" run plug.yaml --set "stages.upper.type=$TEST_TMP/none.so" 2>&1); st=$?
is $st 2 "a missing plugin file: exit 2"
like "$out" "cannot load stage plugin .*none.so" "error names the plugin path"

# ${input}, ${output} and ${name} in stage parameters come from the
# pipeline's top-level keys (so `--set output=DIR` reaches the stages).
cat >exp.yaml <<'YAML'
name: exp
stages:
  - {name: generate, type: teststages.so:fanout, params: {tasks: 2, rows: 1}}
  - {name: probe, type: teststages.so:probe, params: {dir: "${output}/${name}"}}
YAML
mkdir -p expout/exp
out=$("$WINNOW" run exp.yaml --progress off --set output=expout 2>&1); st=$?
ok $st "a parameter using \${output} and \${name}" || diag "$out"
ok $([ -s expout/exp/probe.setup ]; echo $?) "it expanded to the --set output (expout/exp)"
out=$("$WINNOW" run exp.yaml --progress off 2>&1); st=$?
is $st 2 "\${output} without an output: exit 2"
like "$out" "exp.yaml:4:[0-9]+: stage 'probe': parameter 'dir' uses \\\$\\{output\\}, which this pipeline does not set" \
    "the error names file, line, stage and parameter"
out=$("$WINNOW" run exp.yaml --progress off --set 'stages.probe.dir=${outptu}' 2>&1); st=$?
like "$out" "unknown variable '\\\$\\{outptu\\}'" "an unknown variable is named"

# Stage ABI: plugins built for ABI 1 (before shuffle hooks) and 2 (before
# column declarations) still load; one for a newer ABI is refused with a
# message.
for abi in 1 2 99; do
    sed "s/\.abi_version = WN_STAGE_ABI,/.abi_version = $abi,/" \
        "$SRCDIR/examples/plugin/uppercase.c" >abi$abi.c
    cc -shared -fPIC -I"$SRCDIR/include" -o abi$abi.so abi$abi.c
done
out=$(mpirun_np 2 "$WINNOW" run plug.yaml --set "stages.upper.type=$PWD/abi1.so" \
      --results abi1.jsonl --progress off 2>&1); st=$?
ok $st "a plugin built for stage ABI 1 runs" || diag "$out"
is "$(grep -c '"text":"ITEM [0-9]"' abi1.jsonl)" 6 "and upper-cased all 6 rows"
out=$(mpirun_np 2 "$WINNOW" run plug.yaml --set "stages.upper.type=$PWD/abi2.so" \
      --results abi2.jsonl --progress off 2>&1); st=$?
ok $st "a plugin built for stage ABI 2 runs" || diag "$out"
is "$(grep -c '"text":"ITEM [0-9]"' abi2.jsonl)" 6 "and upper-cased all 6 rows"
out=$("$WINNOW" run plug.yaml --set "stages.upper.type=$PWD/abi99.so" 2>&1); st=$?
is $st 2 "a plugin built for stage ABI 99: exit 2"
like "$out" "built for stage ABI 99, this winnow has ABI 3" "the message names both ABIs"

# Task ABI: the layout of the task structs, stated by WN_PLUGIN_DECLARE_ABI.
# A plugin built for another one is refused before any of its code runs;
# one that states none predates the number and is taken as task ABI 1.
sed 's/^WN_PLUGIN_DECLARE_ABI;$/const unsigned wn_plugin_task_abi = WN_TASK_ABI + 1;/' \
    "$SRCDIR/examples/plugin/uppercase.c" >taskabi.c
grep -q 'WN_TASK_ABI + 1' taskabi.c; ok $? "made a plugin stating another task ABI"
cc -shared -fPIC -I"$SRCDIR/include" -o taskabi.so taskabi.c
task_abi=$(printf '#include "winnow/task.h"\nWN_TASK_ABI\n' | cc -E -P -I"$SRCDIR/include" - | tail -n 1)
out=$("$WINNOW" run plug.yaml --set "stages.upper.type=$PWD/taskabi.so" 2>&1); st=$?
is $st 2 "a plugin built for another task ABI: exit 2"
like "$out" "plugin $PWD/taskabi.so was built for task ABI $((task_abi + 1)), this winnow has task ABI $task_abi: rebuild it" \
    "the message names the plugin file and both task ABIs"
grep -v '^WN_PLUGIN_DECLARE_ABI;$' "$SRCDIR/examples/plugin/uppercase.c" >notaskabi.c
cc -shared -fPIC -I"$SRCDIR/include" -o notaskabi.so notaskabi.c
nm -D --defined-only notaskabi.so | grep -q wn_plugin_task_abi; is $? 1 "a plugin stating no task ABI"
out=$("$WINNOW" run plug.yaml --set "stages.upper.type=$PWD/notaskabi.so" \
      --results notaskabi.jsonl --progress off 2>&1); st=$?
if [ "$task_abi" -eq 1 ]; then
    ok $st "loads as task ABI 1 and runs" || diag "$out"
else
    is $st 2 "is refused: it was built for task ABI 1"
fi

done_testing
