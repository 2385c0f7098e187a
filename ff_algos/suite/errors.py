"""The suite's one-line usage error, shared by the option parser, grids and shards."""

from __future__ import annotations

from ff_algos.errors import FFBenchError


class OptionError(FFBenchError):
    """A suite option with an unknown name or a malformed value."""
