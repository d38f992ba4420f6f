#!/bin/bash
# The command line without MPI around it: help, version, errors, and
# `winnow info` run alone (singleton: one process does everything).
. "$(dirname "$0")/../lib/tap.sh"

out=$("$WINNOW" --help); st=$?
ok $st "--help exits 0"
like "$out" "^Usage: winnow" "--help prints usage"
like "$out" "info" "--help lists the info command"

out=$("$WINNOW" --version); st=$?
ok $st "--version exits 0"
like "$out" "^winnow [0-9]+\.[0-9]+\.[0-9]+" "--version prints the version"
like "$out" "^features: mpi hdf5 ucx" "--version lists the features compiled in"

"$WINNOW" >/dev/null 2>&1; is $? 2 "no command is a usage error (2)"
err=$("$WINNOW" frobnicate 2>&1); st=$?
is $st 2 "unknown command exits 2"
like "$err" "unknown command 'frobnicate'" "unknown command is named"
err=$("$WINNOW" info --bogus 2>&1); st=$?
is $st 2 "unknown option to info exits 2"
like "$err" "unknown option '--bogus'" "unknown option is named"

# Alone, without mpirun: the same binary is a one-rank job.
out=$(env -u OMPI_COMM_WORLD_SIZE "$WINNOW" info 2>&1); st=$?
ok $st "winnow info runs alone"
like "$out" "1 rank on 1 node, launched by singleton" "alone it is a singleton"
like "$out" "^rank 0/1 node 0 .* local 0/1 cpus [0-9]+" "rank 0's place is printed"
like "$out" "gpus 0 bound none|gpus [0-9]+ bound [0-9]+" "GPU binding is reported"

# `winnow stages` lists the product's stage types, and no test stage:
# those are a plugin (t/plugins/teststages.so), even with it on
# LD_LIBRARY_PATH as here.
out=$("$WINNOW" stages); st=$?
ok $st "winnow stages exits 0"
types=$(printf '%s\n' "$out" | awk '/^[a-z]/ {print $1}' | tr '\n' ' ')
is "$types" "read_jsonl minhash shuffle lsh buckets_to_edges connected_components \
identify_duplicates exact_duplicates remove_duplicates write_jsonl word_count \
mean_word_length symbols_to_words non_alphanumeric urls repeated_lines repeated_paragraphs \
repeating_top_ngrams bullets " "it lists the 19 product stage types, in order"
for t in noop sleep fail fanout sum probe clique_check lsh_testdata; do
    printf '%s\n' "$types" | tr ' ' '\n' | grep -qx "$t"; st=$?
    is $st 1 "no test stage '$t'"
done

done_testing
