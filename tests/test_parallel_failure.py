"""A rank that dies ends its world with one error naming the rank, long before any timeout; a
rank that raises passes its one-line message on."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import pytest

from ff_algos.fitting import fit
from ff_algos.methods.ff_pipe import TINY
from ff_algos.parallel.entry import peer_lost
from ff_algos.parallel.errors import RankFailedError
from tests.parallel_data import synthetic


def _ranks() -> list[int]:
    """Process ids of this process's grandchildren (the ranks the fork server started), oldest
    first."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    children = {pid for pid, parent in parents.items() if parent == os.getpid()}
    return sorted(pid for pid, parent in parents.items() if parent in children)


class KillLastRank:
    """An observer that kills the youngest rank (rank 1 of a world of 2) after the world's
    first epoch."""

    def __init__(self) -> None:
        self.killed: int | None = None

    def phase_start(self, name: str, epochs: int) -> None: ...

    def epoch_end(self, epoch: int) -> None:
        if self.killed is None:
            self.killed = _ranks()[-1]
            os.kill(self.killed, signal.SIGKILL)

    def phase_end(self) -> None: ...


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find ranks")
def test_a_killed_rank_ends_the_world_with_its_name() -> None:
    recipe = dataclasses.replace(TINY, train_size=None, epochs=400, serial="none", timeout_s=600)
    killer = KillLastRank()
    started = time.perf_counter()
    with pytest.raises(RankFailedError, match=r"^rank 1 of 2 was killed by signal 9 \(SIGKILL\)"):
        fit(recipe, synthetic(), observer=killer)
    assert killer.killed is not None
    assert time.perf_counter() - started < 60  # not the 600 s timeout: the agent stops the rest


def test_a_rank_that_raises_passes_its_message_on() -> None:
    recipe = dataclasses.replace(TINY, train_size=None, lr=float("inf"), serial="none")  # diverges
    with pytest.raises(
        RankFailedError, match=r"rank [01] of 2 exited with status 1: .*non-finite"
    ) as info:
        fit(recipe, synthetic())
    assert "\n" not in str(info.value)


def test_the_launch_leaves_this_processs_signal_handlers_as_they_were() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    fit(dataclasses.replace(TINY, train_size=None, epochs=1, serial="none"), synthetic(64, 8))
    assert {s: signal.getsignal(s) for s in before} == before  # Ctrl-C still interrupts pytest


def test_a_rank_that_lost_a_peer_is_not_taken_for_the_cause() -> None:
    gloo = (
        "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error "
        "[127.0.0.1]:3822: Connection reset by peer."
    )
    assert peer_lost(RuntimeError(gloo))
    assert peer_lost(RuntimeError("Connection closed by peer [127.0.0.1]:29500"))
    assert not peer_lost(RuntimeError("stage 0 loss is non-finite at epoch 3"))
    assert not peer_lost(ValueError("bad shape"))
