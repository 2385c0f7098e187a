#!/usr/bin/env bash
# FF across processes against backprop's pipeline and data parallelism on this 2-core CPU:
# ff_pipe (layer pipeline, FF data parallel) and bp_parallel (ScheduleGPipe, Schedule1F1B, DDP)
# on MNIST, recipe `parallel` (4x1000, 20000 rows, batch 200, 3 epochs, AdamW 1e-3), 2 gloo
# ranks of 1 thread each. Every case also trains its recipe serially in one process with 1
# thread (the bit-identity and speedup reference) and with 2 threads (the world's threads);
# the references are trained once per session and shared by its strategies.
#
# Run it with both cores free (nothing else training). Expected (not yet timed): 5-10 minutes.
#
#     reports/cpu-2core-parallel/run.sh            # from anywhere; PYTHON=... to pick python
#
# Writes: .benchmarks/<machine>/NNNN_parallel-ff.json and NNNN_parallel-bp.json (the saved
# runs), .benchmarks/ff-bench-journal.jsonl (each case as it ends), and the report (table,
# speedup-vs-ranks figure) in reports/cpu-2core-parallel/report/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
PY="${PYTHON:-python}"
export OMP_NUM_THREADS=1  # the parent's; each rank and reference sets its own torch threads
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
common=(-k test_fit --recipe parallel --datasets mnist -p no:cacheprovider)

"$PY" -m pytest bench/ "${common[@]}" --methods ff_pipe --grid strategy=pipe/ddp \
    --benchmark-save=parallel-ff
"$PY" -m pytest bench/ "${common[@]}" --methods bp_parallel --grid strategy=gpipe/1f1b/ddp \
    --benchmark-save=parallel-bp
"$PY" -m ff_algos report parallel-ff parallel-bp --out "$here/report" --force
