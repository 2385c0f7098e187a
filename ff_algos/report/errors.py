"""Errors the report commands raise for input the user can fix; each message is one line."""

from __future__ import annotations

from ff_algos.errors import FFBenchError


class ReportError(FFBenchError):
    """Base of every expected error of ``ff-bench report`` and ``ff-bench compare``."""


class RunNotFoundError(ReportError):
    """No saved run matches a name, number or path, the storage is empty, or a name is ambiguous."""


class BadRunError(ReportError):
    """A file that is not a saved pytest-benchmark run of the ff-bench suite."""


class OutputFolderError(ReportError):
    """The report folder holds another report, or cannot be written."""
