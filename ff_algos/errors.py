"""The user-facing errors: one base class and the kinds every layer of the package raises.

Anything raised as an :class:`FFBenchError` is a mistake the user can fix (a bad name, a missing
file, a checksum mismatch, a learning rate that diverges); its message is a single line that says
what was wrong and what to do. The command line prints it without a traceback; the benchmark suite
reports it as the case's failure reason. The data, suite, sweep and report layers keep their own
subclasses beside their code; these are the ones the method contract and the methods share.
"""


class FFBenchError(Exception):
    """An expected error with a one-line, actionable message."""


class RecipeError(FFBenchError, ValueError):
    """A recipe name, field or value that does not exist, does not parse or cannot train."""


class DivergenceError(FFBenchError, FloatingPointError):
    """Training produced a non-finite loss (usually a learning rate that is too large)."""


class CompileError(FFBenchError, ValueError):
    """A compile mode that is unknown or cannot run on the chosen device."""


class PrecisionError(FFBenchError, ValueError):
    """A precision that cannot run on the chosen device."""
