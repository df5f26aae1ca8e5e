"""Where accelgen keeps what it can reuse: elaborated Verilog, simulator builds, synthesis results."""

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir() -> Path:
    """Root of accelgen's caches: ``$ACCELGEN_CACHE`` or ``~/.cache/accelgen``."""
    return Path(os.environ.get("ACCELGEN_CACHE") or Path.home() / ".cache" / "accelgen")
