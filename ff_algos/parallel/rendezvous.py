"""The rendezvous of a world started by SLURM's ``srun``: torch's ``MASTER_ADDR``,
``MASTER_PORT``, ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from SLURM's own variables
(``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``, ``SLURM_NODELIST``, ``SLURM_JOB_ID``).

Variables torch's launchers already set win, so the same entry point runs under ``torchrun``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ff_algos.parallel.errors import WorldError

PORT_BASE = 20000  # MASTER_PORT = PORT_BASE + job id mod PORT_SPAN, unless it is set
PORT_SPAN = 20000
_TORCH_KEYS = ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK")


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list (``"gpu[03-05,9],cpu1"`` -> ``"gpu03"``)."""
    text = nodelist.strip()
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?([^,]*)", text)
    if not text or match is None:
        raise WorldError(f"cannot read a host from SLURM_NODELIST={nodelist!r}")
    prefix, ranges, suffix = match.group(1), match.group(2), match.group(3)
    if ranges is None:
        return prefix + suffix
    first = ranges.split(",")[0].split("-")[0]
    return prefix + first + suffix


def torch_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The torch rendezvous variables for this process: those already set, the rest from
    SLURM's. Outside both a launcher and SLURM, a one-line :class:`WorldError`."""
    out = {k: environ[k] for k in _TORCH_KEYS if k in environ}
    if len(out) == len(_TORCH_KEYS):
        return out
    if "SLURM_PROCID" not in environ:
        missing = ", ".join(k for k in _TORCH_KEYS if k not in out)
        raise WorldError(
            f"no rendezvous: {missing} unset and not inside a SLURM task; start the ranks with "
            "torchrun, srun, or through the suite"
        )
    nodelist = environ.get("SLURM_STEP_NODELIST") or environ.get("SLURM_NODELIST", "")
    job = int(environ.get("SLURM_JOB_ID", "0") or 0)
    slurm = {
        "MASTER_ADDR": first_host(nodelist) if nodelist else "127.0.0.1",
        "MASTER_PORT": str(PORT_BASE + job % PORT_SPAN),
        "RANK": environ["SLURM_PROCID"],
        "WORLD_SIZE": environ.get("SLURM_NTASKS", environ.get("SLURM_NPROCS", "1")),
        "LOCAL_RANK": environ.get("SLURM_LOCALID", "0"),
    }
    return slurm | out
