"""Start a world on this machine through torchrun's own launcher (``elastic_launch``: a c10d
rendezvous on a free local port, ``nproc_per_node`` ranks, no restarts) and turn a rank that
dies, raises or times out into one :class:`~ff_algos.parallel.errors.RankFailedError` that
names it. The elastic agent ends the other ranks when one fails, so a dead rank never leaves the
rest waiting; every collective also has the job's timeout.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.launcher.api import LaunchConfig, elastic_launch

from ff_algos.method import TrainObserver
from ff_algos.parallel.entry import run_rank
from ff_algos.parallel.errors import RankFailedError
from ff_algos.parallel.job import Job
from ff_algos.parallel.progress import ProgressRelay
from ff_algos.parallel.world import PROGRESS_FILE


def launch(job: Job, start_method: str, observer: TrainObserver) -> None:
    """Run ``job`` on ``job.world`` local ranks started by ``start_method`` (fork or spawn);
    the last rank's epochs reach ``observer`` as they end."""
    out = Path(job.out)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=job.world,
        run_id=f"ff-bench-{uuid.uuid4().hex[:12]}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        rdzv_configs={"timeout": int(job.timeout_s)},
        max_restarts=0,
        monitor_interval=0.1,
        start_method=start_method,
        logs_specs=DefaultLogsSpecs(log_dir=str(out / "logs")),
    )
    if start_method == "forkserver":  # the server imports torch once; every world forks from it
        multiprocessing.get_context("forkserver").set_forkserver_preload([run_rank.__module__])
    saved = _handlers()
    try:
        with ProgressRelay(out / PROGRESS_FILE, observer):
            elastic_launch(config, run_rank)(job)
    except ChildFailedError as exc:
        raise RankFailedError(describe_failure(exc, job.world)) from None
    except SignalException as exc:  # the agent stopped the ranks; the caller sees an interrupt
        raise KeyboardInterrupt(str(exc)) from None
    finally:
        for sig, handler in saved.items():  # the agent replaces them and leaves them replaced
            signal.signal(sig, handler)


def _killed(exitcode: int) -> bool:
    """Whether a rank died of a signal the agent did not send (it stops the rest by SIGTERM)."""
    return exitcode < 0 and exitcode != -signal.SIGTERM


def _handlers() -> dict[signal.Signals, Any]:
    """This process's handlers of the signals the elastic agent takes over."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    names = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT")
    sigs = [getattr(signal, n) for n in names if hasattr(signal, n)]
    return {sig: signal.getsignal(sig) for sig in sigs}


def describe_failure(exc: ChildFailedError, world: int) -> str:
    """One line: which rank failed, and how. A rank killed by a signal other than the agent's
    SIGTERM is the cause when there is one (the others then fail on the closed connection);
    else the first to fail."""
    if not exc.failures:
        return f"a rank of the world of {world} failed ({exc.name}); see the ranks' logs"
    rank, failure = min(
        exc.failures.items(),
        key=lambda kv: (not _killed(kv[1].exitcode), kv[1].timestamp, kv[0]),
    )
    message: object = failure.message
    if isinstance(message, dict):  # the error file's {"message": ..., "extraInfo": ...}
        message = message.get("message", "")
    message = " ".join(str(message or "").split())  # one line
    if failure.exitcode < 0:
        how = f"was killed by signal {-failure.exitcode} ({failure.signal_name()})"
    else:
        how = f"exited with status {failure.exitcode}"
    text = f"rank {rank} of {world} {how}"
    if message and "Signal" not in message:
        text += f": {message[:300]}"
    return text + "; the world was stopped (no rank result is used)"
