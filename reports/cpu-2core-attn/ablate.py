# Ran at commit 0dbc0de, in the layout before ff_algos/methods/ (the structure change): to rerun it,
# check out 0dbc0de; its imports name that commit's modules.
r"""One ablation: fit a method's recipe with field overrides on real data, print test accuracy.

    OMP_NUM_THREADS=1 python reports/cpu-2core-attn/ablate.py \
        ff_attn mnist quick train_size=5000 lr=0.001

Prints the method, dataset, recipe and overrides, the fit time, the test accuracy of the model
(ff_attn: by goodness) and of each further predictor (ff_attn: the linear head), and the
per-epoch losses of each phase. Not timed like the suite (no warm-up, no clock): for accuracy.
"""

import sys
import time

from ff_algos import registry
from ff_algos.data import load_dataset
from ff_algos.methods import accuracy, fit
from ff_algos.recipes import apply_overrides

method, dataset, name, *sets = sys.argv[1:]
recipe = registry.recipe(method, name)
if sets:
    recipe = apply_overrides(recipe, dict(s.split("=", 1) for s in sets))
data = load_dataset(dataset)
start = time.perf_counter()
result = fit(recipe, data)
seconds = time.perf_counter() - start
scores = {"model": accuracy(result.model, data.test)}
scores |= {k: accuracy(p, data.test) for k, p in result.predictors.items()}
losses = {k: [round(v, 3) for v in vs] for k, vs in result.losses.items()}
print(method, dataset, name, *sets, f"fit {seconds:.1f}s", scores, losses, flush=True)
