"""Plain RAMs: the one helper every family uses for a memory with one write and one read port."""

from amaranth.lib import memory

__all__ = ["simple_ram", "ENABLED_READ_REGISTER"]

#: Attributes for a register of block RAM read data that has a clock enable: the synthesis flow
#: (``accelgen.flows.ecp5_netlist``) moves it into the block RAM's output register, its enable onto the
#: register's ``OCE`` pin. Registers without an enable move there without asking.
ENABLED_READ_REGISTER = {"accelgen_enabled_read_register": 1}


def simple_ram(m, name: str, shape, depth: int, *, read_domain: str = "sync", attrs=None):
    """Add a ``depth``-word RAM of ``shape`` (no initial contents) to ``m`` as submodule ``name``.

    Returns ``(write_port, read_port)``. The write port is synchronous; the
    read port is registered (``read_domain="sync"``: data one cycle after the
    address, a block RAM) or asynchronous (``"comb"``: data in the cycle of
    the address, LUT RAM or registers). ``attrs`` go on the memory (e.g. ``NO_COLLISIONS``).
    """
    m.submodules[name] = ram = memory.Memory(shape=shape, depth=depth, init=[], attrs=attrs)
    return ram.write_port(), ram.read_port(domain=read_domain)
