"""The data layer: MNIST, FashionMNIST, CIFAR10, CIFAR100 and SVHN as whole-split device tensors.

Files live under a root in torchvision's own layout (so torchvision's dataset classes read the
same files), are decoded once into a memory-mapped uint8 cache, and are normalised per channel on
the target device. ``ff-bench data fetch NAME`` makes a dataset present; nothing here touches the
disk or the network at import time.
"""

from ff_algos.data.catalog import DATASETS, DatasetInfo, dataset_info
from ff_algos.data.errors import (
    CacheRebuiltWarning,
    ChecksumError,
    CorruptFileError,
    DataError,
    DatasetNotFoundError,
    UnknownDatasetError,
)
from ff_algos.data.loader import (
    LoadedDataset,
    Split,
    is_present,
    load_dataset,
    raw_arrays,
    torchvision_dataset,
)
from ff_algos.data.paths import default_root, resolve_root
from ff_algos.data.sources import fetch

__all__ = [
    "DATASETS",
    "CacheRebuiltWarning",
    "ChecksumError",
    "CorruptFileError",
    "DataError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "LoadedDataset",
    "Split",
    "UnknownDatasetError",
    "dataset_info",
    "default_root",
    "fetch",
    "is_present",
    "load_dataset",
    "raw_arrays",
    "resolve_root",
    "torchvision_dataset",
]
