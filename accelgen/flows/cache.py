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
    process to ask waits until the first lets go.

    The holder removes the file before it lets go, so no lock files pile up. A waiter that then wakes on
    the removed file finds another (or no) file at the path and asks again: a lock counts only on the
    file the path names."""
    locks = cache_dir() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"{name}.lock"
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_ino == os.fstat(handle).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(handle)
    try:
        yield
    finally:
        os.unlink(path)
        os.close(handle)  # closing the descriptor releases the lock
