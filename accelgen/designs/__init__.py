"""Family plug-ins: importing this package registers every design."""

from . import circulant, dense, grng, intergrad  # noqa: F401
