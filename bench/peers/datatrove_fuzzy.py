#!/usr/bin/env python3
"""bench/peers/datatrove_fuzzy.py CORPUS_DIR WORK_DIR TASKS - datatrove's
MinHash deduplication (its four-step pipeline on its local executor) on a
corpus of JSON Lines files ({"id", "text"}), with winnow's fuzzy-dedup
parameters where datatrove has them: 20 buckets of 13 hashes, 32-bit
hashes.  datatrove's shingles are word 5-grams of normalised text (it has
no character n-grams), so its candidates differ from winnow's 24-character
n-grams.  Writes WORK_DIR/duplicate_groups.jsonl in winnow's format (every
document in a cluster of two or more; the kept one is the one datatrove
kept) for bench/quality.py, and prints the wall time of the four steps."""
import glob
import json
import os
import sys
import time

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets,
                                              MinhashDedupCluster, MinhashDedupFilter,
                                              MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.hashing import HashConfig

def main():
    corpus, work, tasks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cfg = MinhashConfig(num_buckets=20, hashes_per_bucket=13, seed=42,
                        hash_config=HashConfig(precision=32))

    def reader():
        return JsonlReader(corpus, glob_pattern="*.jsonl", id_key="id", text_key="text")

    def run(steps, n):
        LocalPipelineExecutor(pipeline=steps, tasks=n, workers=min(n, tasks),
                              logging_dir=os.path.join(work, "logs-%d" % time.monotonic_ns()),
                              skip_completed=False).run()

    t0 = time.monotonic()
    run([reader(), MinhashDedupSignature(output_folder=work + "/sigs", config=cfg)], tasks)
    run([MinhashDedupBuckets(input_folder=work + "/sigs", output_folder=work + "/buckets",
                             config=cfg)], cfg.num_buckets)
    run([MinhashDedupCluster(input_folder=work + "/buckets", output_folder=work + "/remove",
                             config=cfg, save_cluster_id=True, save_cluster_size=True)], 1)
    run([reader(), MinhashDedupFilter(input_folder=work + "/remove", load_cluster_ids=True,
                                      load_cluster_sizes=True,
                                      exclusion_writer=JsonlWriter(work + "/removed", compression=None)),
         JsonlWriter(work + "/kept", compression=None)], tasks)
    wall = time.monotonic() - t0

    with open(os.path.join(work, "duplicate_groups.jsonl"), "w") as out:
        for kept, folder in ((True, "kept"), (False, "removed")):
            for p in sorted(glob.glob(os.path.join(work, folder, "*.jsonl"))):
                for line in open(p):
                    d = json.loads(line)
                    m = d.get("metadata", {})
                    if m.get("minhash_cluster_size", 1) >= 2:
                        out.write(json.dumps({"id": d["id"], "group": m.get("minhash_cluster_id"),
                                              "kept": kept}) + "\n")
    print("datatrove: %.2f s" % wall)


# datatrove's executor starts processes that import this file again.
if __name__ == "__main__":
    main()
