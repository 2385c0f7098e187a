#!/usr/bin/env bash
# The parallel comparison of reports/cpu-2core-parallel/ through SLURM: each world is a job folder
# written by `python -m ff_algos.parallel.cluster prepare`, submitted with `sbatch --wait` (one
# `srun --kill-on-bad-exit=1` step over 2 tasks of 1 CPU each, ranks rendezvous from SLURM's
# variables), then collected with `--serial` (the same recipe trained serially here with a rank's
# one thread: the speedup reference and, for ff_pipe, the bit-identity check).
#
# Needs a SLURM (here: the one-node cluster of .ci/slurm-up) and both cores free.
#
#     reports/cpu-2core-parallel-slurm/run.sh [RECIPE]     # PYTHON=... to pick python
#
# Writes jobs-RECIPE/<method>-<strategy>/ (job.json, submit.sh, SLURM log, collected and result JSON;
# the rows and weights are deleted once collected) and results-RECIPE.json, results-RECIPE.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
PY="${PYTHON:-python}"
recipe="${1:-parallel}"
jobs="$here/jobs-$recipe"
mkdir -p "$jobs"
export OMP_NUM_THREADS=1
for pair in ff_pipe:pipe ff_pipe:ddp bp_parallel:gpipe bp_parallel:1f1b bp_parallel:ddp; do
  method="${pair%%:*}"; strategy="${pair##*:}"; out="$jobs/$method-$strategy"
  [ -e "$out/result.json" ] && continue  # done before: never redone, never overwritten
  rm -rf "$out.partial" && "$PY" -m ff_algos.parallel.cluster prepare --method "$method" \
      --recipe "$recipe" --dataset mnist --set "strategy=$strategy" --set world=2 \
      --cpus-per-task 1 --out "$out.partial" >/dev/null
  started=$(date +%s.%N)
  sbatch --wait --quiet "$out.partial/submit.sh"
  ended=$(date +%s.%N)
  "$PY" -m ff_algos.parallel.cluster collect "$out.partial" --serial > "$out.partial/collected.json"
  "$PY" - "$out.partial" "$started" "$ended" <<'PYEOF'
import json, sys
from pathlib import Path
folder, started, ended = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
got = json.loads((folder / "collected.json").read_text())
got["sbatch_wall_seconds"] = ended - started
(folder / "result.json").write_text(json.dumps(got, indent=1))
PYEOF
  find "$out.partial" -name '*.pt' -delete  # the rows and weights (tens of MB); kept: job, logs, results
  rm -rf "$out.partial/serial"
  mv "$out.partial" "$out"
done
"$PY" - "$jobs" "$here/results-$recipe" <<'PYEOF'
import json, platform, subprocess, sys
from pathlib import Path
jobs, stem = Path(sys.argv[1]), Path(sys.argv[2])
rows, table = [], []
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
for folder in sorted(p for p in jobs.iterdir() if (p / "result.json").exists()):
    r = json.loads((folder / "result.json").read_text())
    job = json.loads((folder / "job.json").read_text())
    speedup = r["serial_epoch_seconds"] / r["epoch_seconds"]
    rows.append({"case": folder.name, "world": r["world"], "epoch_seconds": r["epoch_seconds"],
                 "serial_epoch_seconds_1_thread": r["serial_epoch_seconds"], "speedup": speedup,
                 "weights_match_serial": r["weights_match_serial"], "sbatch_wall_seconds": r["sbatch_wall_seconds"],
                 "threads_per_rank": job["threads"], "recipe": job["recipe"]})
    table.append(f"| {folder.name} | {r['world']} | {r['epoch_seconds']:.3f} | {r['serial_epoch_seconds']:.3f} | "
                 f"{speedup:.2f}x | {r['weights_match_serial']} | {r['sbatch_wall_seconds']:.1f} |")
meta = {"cpu": cpu, "cores": len(open('/proc/cpuinfo').read().split('processor')) - 1, "commit": commit}
stem.with_suffix(".json").write_text(json.dumps({"machine": meta, "rows": rows}, indent=1))
stem.with_suffix(".md").write_text(
    f"CPU: {cpu}; commit {commit}\n\n| case | ranks | epoch s (world) | epoch s (serial, 1 thread) | speedup | weights = serial | sbatch wall s |\n"
    "|---|---:|---:|---:|---:|---|---:|\n" + "\n".join(table) + "\n")
print(stem.with_suffix(".md").read_text())
PYEOF
