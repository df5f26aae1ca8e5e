"""accelgen: parametric Verilog for FPGA neural-network accelerators, verified against NumPy models.

The Python API (``docs/api.md``)::

    import accelgen
    accelgen.designs()                                   # every design name
    acc = accelgen.design("dense-fc", n_in=32, n_out=16)  # validated; accelgen.UserError otherwise
    acc.verilog(); acc.generate("out/"); acc.model(arrays); acc.run(arrays)
    acc.simulate(seed=1, stall=0.3); acc.synthesize(target="ecp5", seeds=1)
"""

__version__ = "0.1.0"

from .errors import UserError  # noqa: E402
from . import registry  # noqa: E402
from .api import Design  # noqa: E402

__all__ = ["__version__", "UserError", "Design", "designs", "design"]


def designs() -> list[str]:
    """The names of every registered design, sorted."""
    return registry.names()


def design(name: str, **params):
    """Design ``name`` at ``params`` (defaults for the rest), validated: an :class:`accelgen.api.Design`.

    Bad names or values raise :class:`UserError` with one line naming the value and the allowed range.
    """
    return registry.get(name)(**params)
