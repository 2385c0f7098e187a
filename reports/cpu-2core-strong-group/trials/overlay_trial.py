# Ran at commit 8db72fa, in the layout before ff_algos/methods/ (the structure change): to rerun it,
# check out 8db72fa; its imports name that commit's modules.
"""Trials of ff_strong's label-overlay FF on validation rows (5000 held out of the MNIST training
split, seeded): goodness and head accuracy every --every epochs (the model is scored through
ff_strong's offer_model hook). Usage: PYTHONPATH=<checkout> OMP_NUM_THREADS=1 python
overlay_trial.py --out A.jsonl --set "hidden=(1000,1000,1000)" --set epochs=30 --set lr=3e-3
--set shift=2 --every 5"""
import argparse, dataclasses, json, time
import torch
from ff_algos.data.loader import load_dataset
from ff_algos import ff_strong as fs

p = argparse.ArgumentParser()
p.add_argument("--dataset", default="mnist")
p.add_argument("--set", action="append", default=[])
p.add_argument("--every", type=int, default=5)
p.add_argument("--out", required=True)
p.add_argument("--test", action="store_true")
a = p.parse_args()
kw = {}
for s in a.set:
    k, v = s.split("=", 1)
    kw[k] = eval(v) if k != "negatives" and k != "schedule" else v
recipe = dataclasses.replace(fs.STRONG, **kw)
data = load_dataset(a.dataset)
g = torch.Generator().manual_seed(123)
perm = torch.randperm(len(data.train), generator=g)
if a.test:
    xtr, ytr, xv, yv = data.train.x, data.train.y, data.test.x, data.test.y
else:
    xtr, ytr = data.train.x[perm[5000:]], data.train.y[perm[5000:]]
    xv, yv = data.train.x[perm[:5000]], data.train.y[perm[:5000]]
log = open(a.out, "a")
t0 = time.perf_counter()
def record(e, net):
    if (e + 1) % a.every and e + 1 != recipe.epochs:
        return
    with torch.no_grad():
        g_acc = (net.predict(xv) == yv).float().mean().item()
        h_acc = (net.predict_head(xv) == yv).float().mean().item()
    row = {"epoch": e + 1, "t": round(time.perf_counter() - t0, 1), "good": g_acc, "head": h_acc, "set": a.set}
    print(json.dumps(row), file=log, flush=True)
fs.offer_model = lambda obs, e, make: record(e, make())
tr = fs.train_strong(recipe, xtr, ytr, 10, None, (1, 28, 28))
print(json.dumps({"done": True, "t": round(time.perf_counter() - t0, 1), "losses_last": {k: v[-1] for k, v in tr.losses.items()}, "set": a.set}), file=log, flush=True)
