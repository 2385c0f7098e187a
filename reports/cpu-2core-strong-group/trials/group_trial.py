# Ran at commit 8db72fa, in the layout before ff_algos/methods/ (the structure change): to rerun it,
# check out 8db72fa; its imports name that commit's modules.
"""The prototype of ff_group (written before ff_algos/ff_group.py): class-group FF on an MLP, each
layer's units in C groups, goodness per group, CE over goodness/T, detached inputs, all layers at
once; validation on 5000 rows held out of the training split (seeded), per layer (L1..) and
summed from layer k on (sumk+). Its random streams differ from ff_group's. Usage:
PYTHONPATH=<checkout> OMP_NUM_THREADS=1 python group_trial.py --out G1.jsonl --epochs 20
--every 2 --hidden 1000,1000,1000 [--dataset fashion_mnist] [--shift 0] [--flip]"""
import argparse, json, time, math
import torch, torch.nn.functional as F
from torch import nn
from ff_algos.data.loader import load_dataset
from ff_algos.ff_strong import translate, rms_normalise
from ff_algos.training import lr_factor

p = argparse.ArgumentParser()
p.add_argument("--dataset", default="mnist")
p.add_argument("--hidden", default="1000,1000,1000")
p.add_argument("--epochs", type=int, default=20)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--T", type=float, default=0.1)
p.add_argument("--shift", type=int, default=2)
p.add_argument("--batch", type=int, default=100)
p.add_argument("--flip", action="store_true")
p.add_argument("--wd", type=float, default=0.0)
p.add_argument("--every", type=int, default=2)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--test", action="store_true")
p.add_argument("--out", required=True)
a = p.parse_args()
torch.manual_seed(a.seed)
data = load_dataset(a.dataset)
C = data.info.num_classes
g = torch.Generator().manual_seed(123)
perm = torch.randperm(len(data.train), generator=g)
if a.test:
    xtr, ytr, xv, yv = data.train.x, data.train.y, data.test.x, data.test.y
else:
    xtr, ytr = data.train.x[perm[5000:]], data.train.y[perm[5000:]]
    xv, yv = data.train.x[perm[:5000]], data.train.y[perm[:5000]]
hidden = [int(h) for h in a.hidden.split(",")]
dims = [xtr.shape[1], *hidden]
layers = [nn.Linear(i, o) for i, o in zip(dims, dims[1:])]
opt = torch.optim.AdamW([p for l in layers for p in l.parameters()], lr=a.lr, weight_decay=a.wd)

def goodness(h):  # (m, H) -> (m, C)
    return h.pow(2).view(h.shape[0], C, -1).mean(2)

def scores(x):
    with torch.no_grad():
        u = rms_normalise(x)
        out = []
        for l in layers:
            h = torch.relu(l(u))
            out.append(F.log_softmax(goodness(h) / a.T, 1))
            u = rms_normalise(h)
        return out

def evaluate(e, t0):
    s = scores(xv)
    accs = {}
    for k in range(len(s)):
        accs[f"L{k+1}"] = (s[k].argmax(1) == yv).float().mean().item()
        accs[f"sum{k+1}+"] = (sum(s[k:]).argmax(1) == yv).float().mean().item()
    print(json.dumps({"epoch": e, "t": round(time.perf_counter() - t0, 1), **accs, "args": vars(a)}), file=log, flush=True)

log = open(a.out, "a")
t0 = time.perf_counter()
n = xtr.shape[0]
sg = torch.Generator().manual_seed(a.seed + 3)
for e in range(a.epochs):
    for grp in opt.param_groups:
        grp["lr"] = a.lr * lr_factor("cooldown", e, a.epochs)
    x_e = translate(xtr, data.info.image_shape, a.shift, sg) if a.shift else xtr
    if a.flip:
        f = torch.rand(n, generator=sg) < 0.5
        x_e = x_e.clone()
        x_e[f] = x_e[f].view(-1, 28, 28).flip(2).reshape(-1, 784)
    xh = rms_normalise(x_e)
    order = torch.randperm(n)
    tot = torch.zeros(len(layers))
    for s in range(0, n, a.batch):
        idx = order[s:s + a.batch]
        u, yb = xh[idx], ytr[idx]
        loss = 0
        for k, l in enumerate(layers):
            h = torch.relu(l(u))
            lk = F.cross_entropy(goodness(h) / a.T, yb)
            loss = loss + lk
            tot[k] += lk.detach()
            u = rms_normalise(h.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    if (e + 1) % a.every == 0 or e + 1 == a.epochs:
        evaluate(e + 1, t0)
print(json.dumps({"done": True, "t": round(time.perf_counter() - t0, 1), "loss": (tot * a.batch / n).tolist()}), file=log, flush=True)
