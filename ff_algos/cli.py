"""The ``ff-bench`` command: ``data`` (fetch, list), ``report``, ``compare``, ``sweep``, ``merge``.

Each sub-command lives beside the code it drives and registers itself here; this module only
builds the parser and turns expected errors (:class:`FFBenchError`, a malformed command line
included) into one-line messages with exit status 2.

    ff-bench data fetch mnist fashion_mnist
    ff-bench data list
    ff-bench report [RUN ...] [--out DIR]
    ff-bench compare RUN_A RUN_B [--fail-on-regression]
    ff-bench sweep [suite options] [--grid FIELD=V1/V2] --shards N --name NAME [SLURM options]
    ff-bench merge RUN... --name NAME
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from ff_algos.errors import FFBenchError


class UsageError(FFBenchError):
    """A malformed command line: argparse's own complaint (an unknown option, a bad number)."""


class _Parser(argparse.ArgumentParser):
    """argparse, whose complaints are one line like every other error (its sub-parsers too)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The full ``ff-bench`` parser with every sub-command registered."""
    from ff_algos.data import cli as data_cli
    from ff_algos.report import cli as report_cli
    from ff_algos.sweep import cli as sweep_cli

    parser: argparse.ArgumentParser = _Parser(  # its sub-parsers are _Parsers too
        prog="ff-bench", description="Forward-Forward vs backprop benchmark tools."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_cli.register(sub)
    report_cli.register(sub)
    sweep_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        status: int = args.run(args)
    except FFBenchError as exc:
        print(f"ff-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ff-bench: interrupted", file=sys.stderr)
        return 130
    return status
