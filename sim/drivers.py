"""cocotb drivers for ``amaranth.lib.stream`` interfaces, with random stalls.

A stream member ``foo`` of a component appears in the Verilog as
``foo__payload``, ``foo__valid`` and ``foo__ready``. :class:`StreamSource`
drives an ``In`` stream, :class:`StreamSink` consumes an ``Out`` stream.
Each takes a ``stall`` probability: every cycle the source withholds
``valid`` (the sink withholds ``ready``) with that probability, drawn from
its own seeded generator, so runs are reproducible.

Both record the simulation time of every transfer in ``times`` (ns), from
which the harness derives cycle counts: the time stamped is that of the
rising edge at which the transfer happens, for sources and sinks alike.

Both fail, rather than wait forever, when ``IDLE_LIMIT`` cycles pass
without a transfer while they still have words to move: a design that
loses a word or deadlocks ends its test with a message saying where.
"""

import numpy as np
from cocotb.triggers import ReadOnly, RisingEdge
from cocotb.utils import get_sim_time

__all__ = ["IDLE_LIMIT", "StreamTimeoutError", "StreamSource", "StreamSink", "span_cycles"]

IDLE_LIMIT = 1_000_000  # cycles without a transfer on one stream end before its test fails


class StreamTimeoutError(AssertionError):
    """A stream end waited ``IDLE_LIMIT`` cycles for a transfer."""


class _StreamEnd:
    def __init__(self, dut, name: str, *, stall: float = 0.0, seed: int = 0, width_signed: bool = True):
        if not 0.0 <= stall < 1.0:
            raise ValueError(f"stall={stall} out of range [0, 1)")
        self.clk = dut.clk
        self.payload = getattr(dut, f"{name}__payload")
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.stall = stall
        self.rng = np.random.default_rng([seed, sum(map(ord, name))])
        self.signed = width_signed
        self.times: list[int] = []
        self.name = name
        self.idle = 0

    def _waited(self, done: int, total: int):
        """One more cycle without a transfer; fail after ``IDLE_LIMIT`` of them."""
        self.idle += 1
        if self.idle >= IDLE_LIMIT:
            raise StreamTimeoutError(f"{self.name}: no transfer for {IDLE_LIMIT} cycles after {done} of {total} "
                                     "words (a word lost or a deadlock)")

    def _stalled(self) -> bool:
        return self.stall > 0 and self.rng.random() < self.stall

    def _record(self):
        """Note the clock edge at which a transfer happened."""
        self.times.append(round(get_sim_time("ns")))
        self.idle = 0


class StreamSource(_StreamEnd):
    """Drives ``valid``/``payload`` of an input stream; :meth:`send` returns when all words are accepted."""

    async def send(self, words):
        mask = (1 << len(self.payload)) - 1
        words = list(words)
        for done, word in enumerate(words):
            while True:
                if self._stalled():
                    self.valid.value = 0
                    await RisingEdge(self.clk)
                    self._waited(done, len(words))
                    continue
                self.valid.value = 1
                self.payload.value = int(word) & mask
                await ReadOnly()
                accepted = bool(self.ready.value)
                await RisingEdge(self.clk)
                if accepted:
                    self._record()
                    break
                self._waited(done, len(words))
        self.valid.value = 0


class StreamSink(_StreamEnd):
    """Drives ``ready`` of an output stream; :meth:`recv` returns ``count`` words as Python ints."""

    async def recv(self, count: int) -> list[int]:
        words = []
        while len(words) < count:
            ready = not self._stalled()
            self.ready.value = int(ready)
            await ReadOnly()
            accepted = ready and bool(self.valid.value)
            if accepted:
                value = self.payload.value
                words.append(value.to_signed() if self.signed else value.to_unsigned())
            await RisingEdge(self.clk)
            if accepted:
                self._record()
            else:
                self._waited(len(words), count)
        self.ready.value = 0
        return words


def span_cycles(first_ns: int, last_ns: int, period_ns: int) -> int:
    """Cycles from one transfer to another, both counted."""
    return (last_ns - first_ns) // period_ns + 1
