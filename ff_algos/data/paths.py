"""Where datasets live: ``$FF_BENCH_DATA``, else a per-user cache folder."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "FF_BENCH_DATA"


def default_root() -> Path:
    """``$FF_BENCH_DATA`` if set, else ``$XDG_CACHE_HOME/ff-bench/data`` (``~/.cache`` when
    ``XDG_CACHE_HOME`` is unset)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().absolute()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(cache).expanduser() / "ff-bench" / "data").absolute()


def resolve_root(root: str | Path | None) -> Path:
    """``root`` as an absolute path, or :func:`default_root` when ``None``."""
    if root is None:
        return default_root()
    return Path(root).expanduser().absolute()
