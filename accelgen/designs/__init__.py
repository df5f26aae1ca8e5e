"""Family plug-ins: importing this package registers every design."""

from . import circulant, dense, grng  # noqa: F401
