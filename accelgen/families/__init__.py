"""Family plug-ins: one module per research line; importing this package registers every design."""

from . import bnn, circulant, conv, dense, grng, intergrad, net, sc  # noqa: F401
