"""Errors and warnings of the data layer; every message is one line saying what to do."""

from __future__ import annotations

from ff_algos.errors import FFBenchError


class DataError(FFBenchError):
    """A dataset could not be found, fetched, verified or decoded."""


class UnknownDatasetError(DataError, ValueError):
    """A dataset name that is not one of :data:`ff_algos.data.DATASETS` or their aliases."""


class DatasetNotFoundError(DataError, FileNotFoundError):
    """The dataset's files are not under the root and downloading was not asked for."""


class ChecksumError(DataError):
    """A file's digest differs from the one recorded in the catalog."""


class CorruptFileError(DataError):
    """A file exists but is not in the format it should be (truncated, wrong magic, bad shape)."""


class CacheRebuiltWarning(UserWarning):
    """The decoded cache was invalid (truncated, wrong shape or checksum) and was rebuilt."""
