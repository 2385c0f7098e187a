#!/bin/bash
# ff-bench sweep check-sweep, submission 1: one array task per shard.
#SBATCH --job-name=ff-bench-check-sweep
#SBATCH --array=1,2
#SBATCH --ntasks=1
#SBATCH --output=/work/main/reports/cpu-2core-check/sweep/shard-%a/1.log
set -u
cd /work/main
k="$SLURM_ARRAY_TASK_ID"
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
  export OMP_NUM_THREADS="$SLURM_CPUS_PER_TASK"
fi
echo "ff-bench shard $k on $(hostname) at $(date -Is)"
case "$k" in
  1) /work/main/.venv/bin/python -m pytest /work/main/bench -p no:cacheprovider --recipe=tiny --datasets=mnist --methods=ff,bp --device=cpu --data-root=/root/.cache/ff-bench/data --seeds=1 --rounds=1 --curve-points=0 --val-size=auto --shard=1/2 --benchmark-storage=file:///work/main/reports/cpu-2core-check/sweep/shard-1/storage --journal=/work/main/reports/cpu-2core-check/sweep/shard-1/journal.jsonl --benchmark-save=check-sweep --yes ;;
  2) /work/main/.venv/bin/python -m pytest /work/main/bench -p no:cacheprovider --recipe=tiny --datasets=mnist --methods=ff,bp --device=cpu --data-root=/root/.cache/ff-bench/data --seeds=1 --rounds=1 --curve-points=0 --val-size=auto --shard=2/2 --benchmark-storage=file:///work/main/reports/cpu-2core-check/sweep/shard-2/storage --journal=/work/main/reports/cpu-2core-check/sweep/shard-2/journal.jsonl --benchmark-save=check-sweep --yes ;;
  *) echo "no shard $k in this submission" >&2; exit 2 ;;
esac
status=$?
exit_file=/work/main/reports/cpu-2core-check/sweep/shard-"$k"/1.exit
echo "$status" > "$exit_file.part" && mv "$exit_file.part" "$exit_file"
exit "$status"
