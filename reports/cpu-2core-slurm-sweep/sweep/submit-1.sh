#!/bin/bash
# ff-bench sweep thr-lr-quick, submission 1: one array task per shard.
#SBATCH --job-name=ff-bench-thr-lr-quick
#SBATCH --array=1,2,3,4%2
#SBATCH --ntasks=1
#SBATCH --output=/tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-%a/1.log
#SBATCH --cpus-per-task=1
set -u
cd /tmp/wt
k="$SLURM_ARRAY_TASK_ID"
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
  export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK"
fi
echo "ff-bench shard $k on $(hostname) at $(date -Is)"
case "$k" in
  1) /work/main/.venv/bin/python -m pytest /tmp/wt/bench -p no:cacheprovider --datasets=mnist --recipe=quick --methods=ff --seeds=2 --rounds=1 --device=cpu --grid=threshold=1/2/4/8 --grid=lr=0.01/0.03/0.1 --shard=1/4 --benchmark-storage=file:///tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-1/storage --journal=/tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-1/journal.jsonl --benchmark-save=thr-lr-quick --yes ;;
  2) /work/main/.venv/bin/python -m pytest /tmp/wt/bench -p no:cacheprovider --datasets=mnist --recipe=quick --methods=ff --seeds=2 --rounds=1 --device=cpu --grid=threshold=1/2/4/8 --grid=lr=0.01/0.03/0.1 --shard=2/4 --benchmark-storage=file:///tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-2/storage --journal=/tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-2/journal.jsonl --benchmark-save=thr-lr-quick --yes ;;
  3) /work/main/.venv/bin/python -m pytest /tmp/wt/bench -p no:cacheprovider --datasets=mnist --recipe=quick --methods=ff --seeds=2 --rounds=1 --device=cpu --grid=threshold=1/2/4/8 --grid=lr=0.01/0.03/0.1 --shard=3/4 --benchmark-storage=file:///tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-3/storage --journal=/tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-3/journal.jsonl --benchmark-save=thr-lr-quick --yes ;;
  4) /work/main/.venv/bin/python -m pytest /tmp/wt/bench -p no:cacheprovider --datasets=mnist --recipe=quick --methods=ff --seeds=2 --rounds=1 --device=cpu --grid=threshold=1/2/4/8 --grid=lr=0.01/0.03/0.1 --shard=4/4 --benchmark-storage=file:///tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-4/storage --journal=/tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-4/journal.jsonl --benchmark-save=thr-lr-quick --yes ;;
  *) echo "no shard $k in this submission" >&2; exit 2 ;;
esac
status=$?
exit_file=/tmp/wt/.benchmarks/sweeps/thr-lr-quick/shard-"$k"/1.exit
echo "$status" > "$exit_file.part" && mv "$exit_file.part" "$exit_file"
exit "$status"
