"""The registry: design name → :class:`accelgen.api.Design` subclass.

Families declare their designs in ``accelgen/families/`` with the
:func:`register` class decorator; importing that package registers them all.
Nothing under ``hw/``, ``models/`` or ``sim/`` knows about the registry.
"""

from .errors import UserError

__all__ = ["register", "names", "get"]

_DESIGNS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make ``cls`` (a ``Design`` subclass) available under ``cls.name``."""
    if cls.name in _DESIGNS:
        raise ValueError(f"design {cls.name!r} registered twice")
    _DESIGNS[cls.name] = cls
    return cls


def _load_families():
    from . import families  # noqa: F401  (registers every design on import)


def names() -> list[str]:
    """Every registered design name, sorted."""
    _load_families()
    return sorted(_DESIGNS)


def get(name: str) -> type:
    """The ``Design`` subclass named ``name``; :class:`UserError` naming the allowed ones otherwise."""
    _load_families()
    if name not in _DESIGNS:
        raise UserError(f"unknown design {name!r}; allowed: {', '.join(sorted(_DESIGNS))}")
    return _DESIGNS[name]
