"""Family plug-ins: importing this package registers every design."""

from . import bnn, circulant, dense, grng, intergrad, sc  # noqa: F401
