"""Step microbenchmark behind the README's torch.compile paragraph: ff_conv's seed blocks trained
together (batch 100, shift 2) for 30 steps, median step time after 5, for the eager fused step
(`fused`, `fused-cl`) and torch.compile of the plain autograd chain (`plain-compile`,
`plain-compile-cl`; `-cl`: channels-last convolutions).

    OMP_NUM_THREADS=1 python reports/cpu-conv-efficiency/step_compile.py fused fused-cl plain-compile plain-compile-cl
"""

import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
from ff_algos.data import load_dataset
from ff_algos.methods.common.conv import as_images, in_channels_last, max_pool, seeded_conv
from ff_algos.methods.common.goodness import competitive_loss, group_goodness, relu_group_goodness
from ff_algos.methods.common.shift import translate
from ff_algos.methods.ff_conv import SEED, normalise

d = load_dataset("mnist", device="cpu")
info = d.info
N = 3000
x, y = d.train.x[:N], d.train.y[:N]
shapes = SEED.shapes(info)


def make(variant):
    gen = torch.Generator().manual_seed(0)
    convs = [seeded_conv(s, gen, torch.device("cpu")) for s in shapes]
    cl = "cl" in variant
    if cl:
        in_channels_last(convs)

    def loss_plain(u, yb):
        total = u.new_zeros(())
        for conv, s in zip(convs, shapes, strict=False):
            h = torch.relu(conv(u))
            total = total + F.cross_entropy(group_goodness(h, 10) / 0.1, yb)
            u = normalise(F.max_pool2d(h.detach(), s.pool) if s.pool > 1 else h.detach())
        return total

    def loss_fused(u, yb):
        total = u.new_zeros(())
        for conv, s in zip(convs, shapes, strict=False):
            g, h = relu_group_goodness(conv(u), 10)
            total = total + competitive_loss(g, yb, 0.1)
            with torch.no_grad():
                u = normalise(max_pool(h, s.pool))
        return total

    fn = loss_plain if "plain" in variant else loss_fused
    if "compile" in variant:
        fn = torch.compile(fn, dynamic=False)
    return convs, fn, cl


def run(variant, steps=30):
    convs, fn, cl = make(variant)
    params = [p for c in convs for p in c.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3, fused=True)
    shifts = torch.Generator().manual_seed(3)
    order = torch.Generator().manual_seed(1)
    perm = torch.randperm(N, generator=order)
    times = []
    for i in range(steps):
        idx = perm[(i * 100) % N : (i * 100) % N + 100]
        t0 = time.perf_counter()
        xb = translate(x[idx], info.image_shape, 2, shifts)
        u = as_images(xb, info, cl)
        loss = fn(u, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    t = sorted(times[5:])
    return t[len(t) // 2] * 1e3, loss.item()


for v in sys.argv[1:]:
    print(v, "{:.1f} ms/step, loss {:.6f}".format(*run(v)))
