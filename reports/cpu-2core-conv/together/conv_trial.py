# Ran at commit 38c5371, in the layout before ff_algos/methods/ (the structure change): to rerun it,
# check out 38c5371; its imports name that commit's modules.
"""The trial behind ff_conv's training=together (written before fit_together): the seed recipe's
blocks (40/80/160 channels) trained all at once on detached inputs, images shifted by up to
--shift pixels each epoch, Adam lr 1e-3 with cooldown, batch 100; validation on 5000 rows held
out of the training split (seeded), per block (B1..) and summed (sum: all blocks, sum2+: blocks
2-3). Its random streams differ from ff_conv's. Usage: PYTHONPATH=<checkout> OMP_NUM_THREADS=1
python conv_trial.py --out C1.jsonl --epochs 6"""
import argparse, json, time
import torch, torch.nn.functional as F
from ff_algos.data.loader import load_dataset
from ff_algos.conv_net import as_images, block, seeded_conv
from ff_algos.ff_conv import SEED, group_goodness, normalise
from ff_algos.ff_strong import translate
from ff_algos.training import lr_factor

p = argparse.ArgumentParser()
p.add_argument("--dataset", default="mnist")
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--T", type=float, default=0.1)
p.add_argument("--shift", type=int, default=2)
p.add_argument("--rows", type=int, default=55000)
p.add_argument("--every", type=int, default=1)
p.add_argument("--out", required=True)
a = p.parse_args()
data = load_dataset(a.dataset)
info = data.info; C = info.num_classes
g = torch.Generator().manual_seed(123)
perm = torch.randperm(len(data.train), generator=g)
xtr, ytr = data.train.x[perm[5000:5000 + a.rows]], data.train.y[perm[5000:5000 + a.rows]]
xv, yv = data.train.x[perm[:5000]], data.train.y[perm[:5000]]
shapes = SEED.shapes(info)
gen = torch.Generator().manual_seed(0)
convs = [seeded_conv(s, gen, torch.device("cpu")) for s in shapes]
pools = SEED.pools
opt = torch.optim.Adam([p for c in convs for p in c.parameters()], lr=a.lr)
log = open(a.out, "a")
def votes(x):
    with torch.no_grad():
        out = []
        for s in range(0, x.shape[0], 1000):
            u = as_images(x[s:s+1000], info); vs = []
            for conv, pool in zip(convs, pools):
                h, pp = block(conv, pool, u)
                vs.append(F.log_softmax(group_goodness(h, C) / a.T, 1)); u = normalise(pp)
            out.append(torch.stack(vs))
        return torch.cat(out, 1)  # (K, N, C)
t0 = time.perf_counter(); n = xtr.shape[0]; sg = torch.Generator().manual_seed(3)
for e in range(a.epochs):
    for grp in opt.param_groups: grp["lr"] = a.lr * lr_factor("cooldown", e, a.epochs)
    xe = translate(xtr, info.image_shape, a.shift, sg) if a.shift else xtr
    order = torch.randperm(n)
    for s in range(0, n, 100):
        idx = order[s:s+100]; u = as_images(xe[idx], info); yb = ytr[idx]; loss = 0
        for conv, pool in zip(convs, pools):
            h, pp = block(conv, pool, u)
            loss = loss + F.cross_entropy(group_goodness(h, C) / a.T, yb)
            u = normalise(pp).detach()
        opt.zero_grad(); loss.backward(); opt.step()
    if (e + 1) % a.every == 0 or e + 1 == a.epochs:
        v = votes(xv); acc = {f"B{k+1}": (v[k].argmax(1) == yv).float().mean().item() for k in range(v.shape[0])}
        acc["sum"] = (v.sum(0).argmax(1) == yv).float().mean().item()
        acc["sum2+"] = (v[1:].sum(0).argmax(1) == yv).float().mean().item()
        print(json.dumps({"epoch": e + 1, "t": round(time.perf_counter() - t0, 1), **acc, "args": vars(a)}), file=log, flush=True)
