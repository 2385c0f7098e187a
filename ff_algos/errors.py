"""The one base class for expected, user-facing errors.

Anything raised as an :class:`FFBenchError` is a mistake the user can fix (a bad name, a missing
file, a checksum mismatch); its message is a single line that says what was wrong and what to do.
The command line prints it without a traceback; the benchmark suite reports it as the case's
failure reason.
"""


class FFBenchError(Exception):
    """An expected error with a one-line, actionable message."""
