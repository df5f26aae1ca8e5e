"""Output files, all or nothing: checked before any work, written through temporaries, renamed as one unit.

Every command that writes files (``generate``, ``run``, ``synth --json``,
``build``, ``sweep``, ``aqfp map``) first calls :func:`check_outputs` on all
of its output paths, so a path it cannot write is refused before any
simulation or synthesis runs. :func:`write_atomically` then writes each file
to a temporary beside its target and, holding a lock per target directory
(kept under ``cache_dir()/locks/``, not in the user's directory), renames
them into place; if a rename fails, the files already
replaced get their previous contents back. Two commands writing the same
set of paths at once leave one command's set, never a mix. Errors name the
user's path, never a temporary.
"""

import hashlib
import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

from ..errors import UserError
from .cache import cache_lock

__all__ = ["check_outputs", "write_atomically"]


def check_outputs(paths, *, inputs=()):
    """Refuse (``UserError``) any output path that cannot be written: a directory, a path under a file,
    an unwritable directory, the same path twice, or one of ``inputs``."""
    seen = {}
    sources = {Path(path).resolve() for path in inputs if path}
    for path in map(Path, (path for path in paths if path)):
        resolved = path.resolve()
        if resolved in seen:
            raise UserError(f"{path} is given twice as an output (also as {seen[resolved]})")
        if resolved in sources:
            raise UserError(f"output {path} is also an input; write the outputs elsewhere")
        seen[resolved] = path
        if path.is_dir():
            raise UserError(f"cannot write {path}: it is a directory")
        parent = _existing_ancestor(resolved.parent)
        if not parent.is_dir():
            raise UserError(f"cannot write {path}: {parent} is not a directory")
        try:  # a real probe: permissions, read-only mounts and pseudo file systems all answer it
            tempfile.TemporaryFile(dir=parent).close()
        except OSError as error:
            raise UserError(f"cannot write {path}: {error.strerror} in {parent}") from None
        if path.exists() and not os.access(path, os.W_OK):
            raise UserError(f"cannot write {path}: permission denied")


def _existing_ancestor(directory: Path) -> Path:
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _stage(path: Path, content) -> Path:
    """``content`` (text or bytes) in a temporary file beside ``path``, with the usual file mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "wb" if isinstance(content, bytes) else "w") as stream:
        stream.write(content)
    os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600
    return Path(temp)


def _lock(stack: ExitStack, directory: Path):
    stack.enter_context(cache_lock(hashlib.sha256(str(directory).encode()).hexdigest()[:24]))


def _commit(staged: list[tuple[Path, Path]]):
    """Rename every temporary onto its path; on a failure put back what was replaced, then re-raise."""
    done = []  # (path, backup or None)
    try:
        for temp, path in staged:
            backup = None
            if path.exists() and not path.is_dir():
                backup = path.with_name(f".{path.name}.{os.getpid()}.previous")
                os.replace(path, backup)
            done.append((path, backup))
            os.replace(temp, path)
    except OSError:
        for path, backup in reversed(done):
            if backup is not None:
                os.replace(backup, path)
            elif path.exists() and not path.is_dir():
                path.unlink()
        raise
    for _, backup in done:
        if backup is not None:
            backup.unlink(missing_ok=True)


def write_atomically(files: dict):
    """Write every ``{path: text or bytes}`` as one unit: all of them or none, never a partial file."""
    staged = []
    targets = {Path(path): content for path, content in files.items()}
    try:
        with ExitStack() as stack:
            for path, content in targets.items():
                try:
                    staged.append((_stage(path, content), path))
                except OSError as error:
                    raise UserError(f"cannot write {path}: {error.strerror}") from None
            for directory in sorted({path.parent.resolve() for path in targets}):
                _lock(stack, directory)
            try:
                _commit(staged)
            except OSError as error:
                failed = next((path for temp, path in staged if str(temp) == error.filename
                               or str(path) == error.filename or str(path) == error.filename2), None)
                raise UserError(f"cannot write {failed or error.filename}: {error.strerror}") from None
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
