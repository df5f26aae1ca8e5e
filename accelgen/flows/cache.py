"""Where accelgen keeps what it can reuse: elaborated Verilog, simulator builds, synthesis results."""

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

__all__ = ["cache_dir", "cache_lock"]


def cache_dir() -> Path:
    """Root of accelgen's caches: ``$ACCELGEN_CACHE`` or ``~/.cache/accelgen``."""
    return Path(os.environ.get("ACCELGEN_CACHE") or Path.home() / ".cache" / "accelgen")


@contextmanager
def cache_lock(name: str):
    """Hold the exclusive lock ``name`` (a file under ``cache_dir()/locks/``) across processes: the second
    process to ask waits until the first lets go."""
    locks = cache_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    handle = os.open(locks / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing the descriptor releases the lock
