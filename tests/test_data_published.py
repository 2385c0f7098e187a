"""CIFAR10, CIFAR100 and SVHN files are checked against their published md5 before decoding: a
re-encoded file is refused in one line and nothing is written; ``allow_unverified`` loads a
variant and says so, and a cache of unverified files is never taken for the real set."""

from __future__ import annotations

import importlib
import json
import pickle
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torchvision.datasets as tvd

from ff_algos.data import ChecksumError, catalog, load_dataset
from ff_algos.data.cache import MANIFEST, cache_dir

Publish = Callable[[Path, str], dict[str, str]]  # the conftest fixture `publish`


@pytest.fixture(scope="module")
def writers() -> ModuleType:
    return importlib.import_module("test_data_formats")  # the tiny canonical-file writers


def _reencode_cifar(path: Path) -> None:
    """The same batch with one pixel changed, pickled again: still a valid CIFAR batch."""
    with path.open("rb") as fh:
        batch = pickle.load(fh)  # our own tiny file
    batch["data"][0, 0] ^= 1
    path.write_bytes(pickle.dumps(batch, protocol=2))


def _tiny(writers: ModuleType, root: Path, name: str, publish: Publish) -> Path:
    """Write the tiny canonical files of ``name``, publish their md5, return the file a test
    re-encodes."""
    if name == "svhn":
        writers.write_svhn(root / "train_32x32.mat")
        writers.write_svhn(root / "test_32x32.mat", n=5)
        publish(root, name)
        return root / "test_32x32.mat"
    writers.write_cifar(root, name)
    publish(root, name)
    return root / catalog.LAYOUTS[name].folder / catalog.LAYOUTS[name].files[-1]


def _tree(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn"])
def test_a_reencoded_file_is_refused_in_one_line_and_nothing_is_written(
    writers: ModuleType, tmp_path: Path, publish: Publish, name: str
) -> None:
    path = _tiny(writers, tmp_path, name, publish)
    if name == "svhn":
        writers.write_svhn(path, n=6)  # re-encoded: a different .mat of the same layout
    else:
        _reencode_cifar(path)
    before = _tree(tmp_path)
    with pytest.raises(ChecksumError) as caught:
        load_dataset(name, root=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: md5 ")
    assert f"expected {catalog.PUBLISHED_MD5[name][path.name]}" in message
    assert "nothing was decoded or changed" in message
    assert f"ff-bench data fetch {name} --data-root {tmp_path}" in message
    assert "--allow-unverified" in message
    assert _tree(tmp_path) == before  # no cache, nothing moved
    assert not cache_dir(name, tmp_path).exists()


def test_canonical_files_load_as_checked_by_md5(
    writers: ModuleType, tmp_path: Path, publish: Publish
) -> None:
    _tiny(writers, tmp_path, "cifar10", publish)
    first = load_dataset("cifar10", root=tmp_path)
    assert (first.source, first.checked) == ("decoded", "md5")
    again = load_dataset("cifar10", root=tmp_path)
    assert (again.source, again.checked) == ("cache", "md5")


def test_torchvision_refuses_the_reencoded_file_too(
    writers: ModuleType, tmp_path: Path, publish: Publish, monkeypatch: pytest.MonkeyPatch
) -> None:
    # torchvision's own check, with the tiny files' digests as its lists
    path = _tiny(writers, tmp_path, "cifar10", publish)
    md5 = catalog.PUBLISHED_MD5["cifar10"]
    layout = catalog.LAYOUTS["cifar10"]
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[f, md5[f]] for f in layout.train])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [[f, md5[f]] for f in layout.test])
    monkeypatch.setattr(tvd.CIFAR10, "_load_meta", lambda self: None)  # no class-name file
    tvd.CIFAR10(str(tmp_path), train=False, download=False)
    _reencode_cifar(path)
    with pytest.raises(RuntimeError, match="corrupted"):
        tvd.CIFAR10(str(tmp_path), train=False, download=False)


def test_allow_unverified_loads_a_variant_and_its_cache_stays_unverified(
    writers: ModuleType, tmp_path: Path, publish: Publish
) -> None:
    path = _tiny(writers, tmp_path, "cifar10", publish)
    _reencode_cifar(path)
    variant = load_dataset("cifar10", root=tmp_path, allow_unverified=True)
    assert (variant.source, variant.checked) == ("decoded", "unverified")
    manifest = json.loads((cache_dir("cifar10", tmp_path) / MANIFEST).read_text())
    assert manifest["checked"] == "unverified"
    assert load_dataset("cifar10", root=tmp_path, allow_unverified=True).checked == "unverified"
    # without the flag the cache of the variant is not taken for the real set
    cached = _tree(cache_dir("cifar10", tmp_path))
    with pytest.raises(ChecksumError, match="nothing was decoded or changed"):
        load_dataset("cifar10", root=tmp_path)
    assert _tree(cache_dir("cifar10", tmp_path)) == cached
    for fname in catalog.LAYOUTS["cifar10"].files:  # only the cache is left
        (path.parent / fname).unlink()
    with pytest.raises(ChecksumError, match="never checked against the published digests"):
        load_dataset("cifar10", root=tmp_path)


def test_a_cache_older_than_the_check_is_checked_again(
    writers: ModuleType, tmp_path: Path, publish: Publish
) -> None:
    _tiny(writers, tmp_path, "cifar100", publish)
    load_dataset("cifar100", root=tmp_path)
    manifest_path = cache_dir("cifar100", tmp_path) / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    del manifest["checked"]  # as written before the check existed
    manifest_path.write_text(json.dumps(manifest))
    again = load_dataset("cifar100", root=tmp_path)
    assert (again.source, again.checked) == ("decoded", "md5")


BENCH = Path(__file__).resolve().parents[1] / "bench"
pytest_plugins = ["pytester"]


def test_the_suite_refuses_a_variant_unless_allowed_and_records_it(
    writers: ModuleType, pytester: pytest.Pytester, publish: Publish
) -> None:
    root = pytester.mkdir("data")
    path = _tiny(writers, root, "cifar10", publish)
    digests = dict(catalog.PUBLISHED_MD5["cifar10"])  # the tiny files', before re-encoding
    _reencode_cifar(path)
    for name in ("test_bench.py", "floors.toml"):
        (pytester.path / name).write_bytes((BENCH / name).read_bytes())
    pytester.makeconftest(
        (BENCH / "conftest.py").read_text()
        + "\n\nfrom ff_algos.data import catalog as _catalog\n\n"
        + f"_catalog.PUBLISHED_MD5['cifar10'] = {digests!r}\n"
    )
    args = [
        *("-p", "no:cacheprovider", "--recipe=tiny", "--methods=bp", "--datasets=cifar10"),
        *(f"--data-root={root}", "--journal=journal.jsonl", "--set=train_size=none"),
    ]
    refused = pytester.runpytest_subprocess(*args)
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(
        [f"*{path}: md5 * not the canonical CIFAR10 file*--allow-unverified*"]
    )
    assert not cache_dir("cifar10", root).exists()
    allowed = pytester.runpytest_subprocess(
        *args, "--allow-unverified", "--benchmark-json=out.json"
    )
    allowed.assert_outcomes(passed=1)
    info = json.loads((pytester.path / "out.json").read_text())["benchmarks"][0]["extra_info"]
    assert info["data"]["checked"] == "unverified"
    assert info["study"]["like_for_like"] is False
    assert any("unverified" in d for d in info["study"]["differences"])


def test_the_study_recipe_on_unverified_files_is_not_like_for_like() -> None:
    from ff_algos import registry as methods
    from ff_algos.study_recipe import like_the_study

    seed = methods.recipe("bp", "seed")
    assert like_the_study(seed, "md5").like_for_like
    unverified = like_the_study(seed, "unverified")
    assert not unverified.like_for_like
    assert "not like for like" in unverified.describe("seed")
    assert "unverified files" in unverified.describe("seed")
