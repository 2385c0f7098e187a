"""ff_strong tiny (6 epochs, cooldown schedule) eager against compile=inductor on a CPU, real MNIST,
one thread: every phase's per-epoch losses, test accuracy and compile seconds (issue 19, item 6).

    OMP_NUM_THREADS=1 python reports/cpu-ff-strong-inductor/compare.py
"""
import dataclasses, time, torch
torch.set_num_threads(1)
from ff_algos.data import load_dataset
from ff_algos.fitting import fit, accuracy
from ff_algos.methods.ff_strong import TINY
d = load_dataset("mnist", device="cpu")
out = {}
for mode in ["none", "inductor"]:
    r = dataclasses.replace(TINY, compile=mode)
    t0 = time.perf_counter(); f = fit(r, d); s = time.perf_counter() - t0
    out[mode] = f
    print(mode, f"{s:.1f}s", {k: [round(v, 7) for v in vs] for k, vs in f.losses.items()}, accuracy(f.model, d.test), f.options.get("compile_seconds"))
a, b = out["none"], out["inductor"]
for k in a.losses:
    print(k, max(abs(x - y) for x, y in zip(a.losses[k], b.losses[k])))
