"""Peak resident set size (RSS) of this process on the host.

On Linux the peak is ``VmHWM`` in ``/proc/self/status`` and writing ``5`` to
``/proc/self/clear_refs`` resets it to the current RSS, so each window sees its own peak.
Elsewhere (or where /proc is closed) the fallback is ``resource.getrusage``, whose peak covers
the whole process lifetime and cannot be reset.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ff_algos.data.files import describe

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
_VMHWM = re.compile(r"^VmHWM:\s+(\d+)\s+kB\s*$", re.MULTILINE)


def reset_peak_rss() -> str | None:
    """Reset the peak RSS to the current RSS; None on success, else why it could not be."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError as e:
        return f"cannot reset the host RSS peak via {CLEAR_REFS} ({describe(e)})"
    return None


def read_peak_rss() -> tuple[int | None, str]:
    """``(peak_bytes, source)``: source is "VmHWM", "ru_maxrss", or why neither could be read."""
    try:
        match = _VMHWM.search(STATUS.read_text())
    except OSError:
        match = None
    if match is not None:
        return int(match.group(1)) * 1024, "VmHWM"
    try:
        import resource
    except ImportError:
        return None, "no /proc/self/status VmHWM and no resource module on this platform"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is kilobytes on Linux but bytes on macOS
    return (peak if sys.platform == "darwin" else peak * 1024), "ru_maxrss"
