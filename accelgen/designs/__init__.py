"""Family plug-ins: importing this package registers every design."""

from . import dense  # noqa: F401
