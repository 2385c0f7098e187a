"""The world's shape and rendezvous: layer splits, backends, start methods and SLURM's
environment, each bad one a one-line error."""

from __future__ import annotations

import pytest
import torch

from ff_algos.parallel.errors import WorldError
from ff_algos.parallel.layout import resolve_backend, resolve_start_method, split_layers
from ff_algos.parallel.rendezvous import first_host, torch_env


def test_layers_split_evenly_in_order() -> None:
    assert split_layers(4, 2) == ((1, 2), (3, 4))
    assert split_layers(6, 3) == ((1, 2), (3, 4), (5, 6))
    with pytest.raises(WorldError, match="use a world of 1, 2, 3, 6"):
        split_layers(6, 4)
    with pytest.raises(WorldError, match="world=5 ranks but the network has 4 layers"):
        split_layers(4, 5)


def test_backends_the_device_cannot_run_are_refused() -> None:
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu, 2) == "gloo"
    with pytest.raises(WorldError, match="needs CUDA tensors"):
        resolve_backend("nccl", cpu, 2)
    with pytest.raises(WorldError, match="unknown"):
        resolve_backend("mpi", cpu, 2)
    if not torch.cuda.is_available():
        with pytest.raises(WorldError, match=r"no GPU .* is visible"):
            resolve_backend("nccl", torch.device("cuda"), 2)
    elif torch.cuda.device_count() < 64:
        with pytest.raises(WorldError, match="needs one GPU per rank"):
            resolve_backend("nccl", torch.device("cuda"), 64)


def test_ranks_start_from_a_fork_server_unless_asked_otherwise() -> None:
    assert resolve_start_method("auto", 1) == "forkserver"
    assert resolve_start_method("spawn", 2) == "spawn"
    with pytest.raises(WorldError, match="start_method=fork with threads=2"):
        resolve_start_method("fork", 2)
    with pytest.raises(WorldError, match="start_method='thread' is unknown"):
        resolve_start_method("thread", 1)


def test_slurm_node_lists_give_the_first_host() -> None:
    assert first_host("gpu[03-05,9],cpu1") == "gpu03"
    assert first_host("node7") == "node7"
    assert first_host("a[1-2]-ib") == "a1-ib"
    with pytest.raises(WorldError):
        first_host("")


def test_the_rendezvous_comes_from_slurm_unless_a_launcher_set_it() -> None:
    slurm = {
        "SLURM_PROCID": "3",
        "SLURM_NTASKS": "4",
        "SLURM_LOCALID": "1",
        "SLURM_NODELIST": "n[10-11]",
        "SLURM_JOB_ID": "123",
    }
    env = torch_env(slurm)
    assert env == {
        "MASTER_ADDR": "n10",
        "MASTER_PORT": "20123",
        "RANK": "3",
        "WORLD_SIZE": "4",
        "LOCAL_RANK": "1",
    }
    assert torch_env(slurm | {"MASTER_PORT": "999"})["MASTER_PORT"] == "999"
    with pytest.raises(WorldError, match="not inside a SLURM task"):
        torch_env({})
