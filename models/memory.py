"""Timing of the shared memory blocks, for the cycle models of the families that use them."""

__all__ = ["BANKED_READ_LATENCY"]

#: Cycles from a banked memory's read address to its data: address register -> block RAM -> its output
#: register -> group select -> bank select (``hw/common/banked.py``'s ``BankedMemory``, whose
#: ``READ_LATENCY`` this is).
BANKED_READ_LATENCY = 5
