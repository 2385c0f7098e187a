"""Importing the telemetry package probes nothing: no NVML init, no CUDA initialisation."""

from __future__ import annotations

import subprocess
import sys

# torch itself imports pynvml, so the check is that nobody *initialises* NVML
CHECK = """
import sys
import torch
calls = []
try:
    import pynvml
except ImportError:
    pynvml = None
if pynvml is not None:
    real_init = pynvml.nvmlInit
    def counting_init(*args, **kwargs):
        calls.append(1)
        return real_init(*args, **kwargs)
    pynvml.nvmlInit = counting_init
import ff_algos.telemetry
assert not calls, "NVML initialised at import time"
assert not torch.cuda.is_initialized(), "CUDA initialised at import time"
session = ff_algos.telemetry.TelemetrySession("cpu")
with session.window("train"):
    pass
assert not calls, "NVML initialised by a CPU window"
print("ok")
"""


def test_import_probes_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
