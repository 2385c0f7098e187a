"""ff_algos: the Forward-Forward algorithm and a backprop baseline, their data, and telemetry.

Importing this package does no work: no device detection, no file access.
"""

__version__ = "0.1.0"
