# Ran at commit c384e1b, in the layout before ff_algos/methods/ (the structure change): to rerun it,
# check out c384e1b; its imports name that commit's modules.
"""Profile one ff_conv epoch (every block one epoch, head one epoch) of the seed recipe's
architecture on 10000 MNIST rows; top operators by self CPU time."""
import dataclasses, time, torch
from torch.profiler import ProfilerActivity, profile
from ff_algos.data import load_dataset
from ff_algos import ff_conv as fc
from ff_algos.methods import fit

data = load_dataset("mnist")
recipe = dataclasses.replace(fc.SEED, epochs=1, head_epochs=1, train_size=10000)
fit(dataclasses.replace(recipe, train_size=1000), data)  # warm-up
with profile(activities=[ProfilerActivity.CPU]) as prof:
    t = time.perf_counter()
    fit(recipe, data)
    wall = time.perf_counter() - t
flops = sum(recipe.executed_flops(10000, data.info).values())
print(f"wall {wall:.2f} s, executed {flops/1e9:.1f} GFLOP, {flops/wall/1e9:.1f} GFLOP/s")
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
