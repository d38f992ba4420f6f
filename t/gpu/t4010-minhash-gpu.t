#!/bin/bash
# wn-timeout: 300
# The minhash stage on a GPU rank: with resources {gpus: 1} its setup gets
# the bound device and the CUDA kernel (stages/dedup/minhash_cuda.cu) computes
# the permutations and minima; the signatures of a real corpus (Debian's
# /usr/share/doc/*/copyright files and /usr/share/common-licenses) are
# byte for byte those of the CPU path, in 32- and 64-bit mode.  Skipped
# (with the reason) where no GPU is usable.
. "$(dirname "$0")/../lib/tap.sh"
cd "$TEST_TMP"
skip_without_gpu cuda

mkdir -p in
n=$(python3 - <<'PY'
import glob, json
files = sorted(glob.glob('/usr/share/doc/*/copyright')) + sorted(glob.glob('/usr/share/common-licenses/*'))
with open('in/corpus.jsonl', 'w') as out:
    for p in files:
        try:
            t = open(p, 'rb').read().decode('utf-8', 'replace')
        except OSError:
            continue
        out.write(json.dumps({"text": t, "path": p}) + "\n")
print(len(files))
PY
)
[ "$n" -ge 20 ] || skip_all "only $n text files for a corpus"

cat >m.yaml <<'YAML'
name: minhash-gpu
stages:
  - {name: read, type: read_jsonl, params: {input: "${input}", id_field: path, blocksize: 400000}}
  - {name: minhash, type: minhash, batch_size: 4, resources: {gpus: 1}}
YAML

# compare A B: same rows (by id), same signatures.
compare() {
    python3 - "$1" "$2" <<'PY'
import json, sys
def load(p):
    return {r["_curator_dedup_id"]: r["_minhash_signature"] for r in map(json.loads, open(p))}
g, c = load(sys.argv[1]), load(sys.argv[2])
bad = [k for k in c if g.get(k) != c[k]]
print("# %d rows, %d differ" % (len(c), len(bad)), file=sys.stderr)
sys.exit(0 if c and g.keys() == c.keys() and not bad else 1)
PY
}

for bits in 32 64; do
    wide=false; [ $bits = 64 ] && wide=true
    out=$("$WINNOW" run m.yaml --set input=in --set stages.minhash.params.use_64_bit_hash=$wide \
          --results gpu$bits.jsonl --progress off 2>&1); st=$?
    ok $st "minhash with gpus: 1 on $n documents ($bits-bit)" || diag "$out"
    out=$("$WINNOW" run m.yaml --set input=in --set stages.minhash.params.use_64_bit_hash=$wide \
          --set stages.minhash.resources.gpus=0 --results cpu$bits.jsonl --progress off 2>&1); st=$?
    ok $st "the same on the CPU ($bits-bit)" || diag "$out"
    compare gpu$bits.jsonl cpu$bits.jsonl
    ok $? "GPU signatures equal the CPU's, byte for byte ($bits-bit)"
done
done_testing
