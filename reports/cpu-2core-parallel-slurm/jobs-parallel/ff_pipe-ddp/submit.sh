#!/bin/bash
#SBATCH --job-name=ff-bench-world
#SBATCH --nodes=1
#SBATCH --ntasks=2
#SBATCH --output=/work/main/reports/cpu-2core-parallel-slurm/jobs-parallel/ff_pipe-ddp.partial/slurm-%j.log
#SBATCH --cpus-per-task=1
set -euo pipefail
cd /work/main
export OMP_NUM_THREADS=1
export PYTHONPATH=/work/main${PYTHONPATH:+:$PYTHONPATH}
srun --kill-on-bad-exit=1 /work/main/.venv/bin/python -m ff_algos.parallel.entry /work/main/reports/cpu-2core-parallel-slurm/jobs-parallel/ff_pipe-ddp.partial/job.json
