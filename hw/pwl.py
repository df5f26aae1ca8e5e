"""Streaming piecewise-linear activation (C-LSTM's sigmoid and tanh)."""

import operator

from amaranth.hdl import Array, Cat, Const, EnableInserter, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.fixed import FixedFormat
from models.pwl import SLOPE_FRAC, SLOPE_WIDTH, PWLSpec, pwl_table

from .common.dsp import registered_product
from .common.fixed import delay, round_shift, saturate

__all__ = ["PWL_LATENCY", "pwl_pipeline", "PWLActivation"]

PWL_LATENCY = 6  #: registers from ``x`` to ``PWL(x)`` in :func:`pwl_pipeline`


def thermometer_count(thermometer):
    """The number of ones of a thermometer code (ones from bit 0 up, then zeros), without an adder.

    The count is at least ``j`` exactly when bit ``j − 1`` is set, so bit ``b``
    of the count is an OR over the runs of counts ``[lo, lo + 2**b)`` with
    ``lo`` an odd multiple of ``2**b``, each run one AND of two code bits: a
    few LUT levels, where a sum of 21 bits is a carry-chain adder tree.
    """
    ones = len(thermometer)

    def at_least(count):
        return thermometer[count - 1] if count <= ones else Const(0, 1)

    bits = []
    for bit in range(ones.bit_length()):
        run = 1 << bit
        bits.append(Cat(*(at_least(lo) & ~at_least(lo + run) for lo in range(run, ones + 1, 2 * run))).any())
    return Cat(*bits)


def pwl_pipeline(m: Module, spec: PWLSpec, x, fmt: FixedFormat, name: str = "pwl", enable=1) -> Signal:
    """``PWL_f(x)`` of a signed ``Q(fmt)`` value, ``PWL_LATENCY`` registers later (free running in
    ``m``'s ``sync`` domain; to stall it wrap ``m`` in an ``EnableInserter`` and pass the same
    ``enable``, which the multiplier's hard registers need: an ``EnableInserter`` does not reach them).

    1. breakpoint comparators (a thermometer code), below/above flags;
    2. segment = number of breakpoints ≤ ``x`` (:func:`thermometer_count`);
    3. the segment's ``x_i``, ``y_i``, ``m_i`` from tables, ``x − x_i`` (into the multiplier's input registers);
    4. ``m_i (x − x_i)`` (one registered DSP multiplier, ``hw/common/dsp.py``);
    5. ``y_i + round(product >> 15)``, as ``round((product + y_i·2^15) >> 15)``;
    6. that, saturated, or an asymptote.
    """
    width = fmt.width
    xs, ys, slopes, below, above = pwl_table(spec, fmt)
    interior = range(1, spec.segments)
    thermometer = Signal(len(interior), name=f"{name}_thermometer")
    x1 = Signal(signed(width), name=f"{name}_x1")
    flags1 = Signal(2, name=f"{name}_flags1")  # below, above
    m.d.sync += [thermometer.eq(Cat(*(x >= int(xs[i]) for i in interior))), x1.eq(x),
                 flags1.eq(Cat(x < int(xs[0]), x >= int(xs[-1])))]
    segment = Signal(range(spec.segments), name=f"{name}_segment")
    m.d.sync += segment.eq(thermometer_count(thermometer))
    x2, flags2 = delay(m, x1, 1, f"{name}_x"), delay(m, flags1, 1, f"{name}_flags")
    offset, y_i = Signal(signed(width + 2), name=f"{name}_offset"), Signal(signed(width + 1), name=f"{name}_y_i")
    m_i = Signal(signed(SLOPE_WIDTH), name=f"{name}_m_i")
    m.d.comb += [offset.eq(x2 - Array(Const(int(v), signed(width + 1)) for v in xs[:-1])[segment]),
                 m_i.eq(Array(Const(int(v), signed(SLOPE_WIDTH)) for v in slopes)[segment])]
    m.d.sync += y_i.eq(Array(Const(int(v), signed(width + 1)) for v in ys[:-1])[segment])
    flags3 = delay(m, flags2, 1, f"{name}_flags3")
    product = registered_product(m, m_i, offset, f"{name}_product", enable)
    # y_i + rnd(p) = rnd(p + y_i·2^SLOPE_FRAC) exactly: the add rides in the rounding stage.
    rounded = Signal(signed(SLOPE_WIDTH + width + 3 - SLOPE_FRAC), name=f"{name}_rounded")
    m.d.sync += rounded.eq(round_shift(product + (delay(m, y_i, 1, f"{name}_y") << SLOPE_FRAC), SLOPE_FRAC))
    flags5 = delay(m, flags3, 2, f"{name}_flags5")
    result = Signal(signed(width), name=f"{name}_result")
    m.d.sync += result.eq(Mux(flags5[0], below, Mux(flags5[1], above, saturate(rounded, width))))
    return result


class PWLActivation(wiring.Component):
    """``y = PWL_f(x)`` on a stream, bit-exact with ``models/pwl.py``.

    :func:`pwl_pipeline` — comparators, segment count, table lookups and
    ``x − x_i``, ``m_i (x − x_i)`` with one multiplier, its rounding, ``y_i + (… >> 15)``
    saturated — under one clock enable that stalls it while the output waits.

    Parameters
    ----------
    spec : models.pwl.PWLSpec
        ``SIGMOID`` or ``TANH``.
    width, frac : int
        ``Q(width, frac)`` of ``x`` and ``y``.

    Members
    -------
    x_in : In(stream.Signature(signed(width)))
    y_out : Out(stream.Signature(signed(width)))

    Latency
    -------
    ``PWL_LATENCY`` cycles.

    Throughput
    ----------
    One sample per cycle (stalled as a whole while ``y_out`` waits).
    """

    def __init__(self, spec: PWLSpec, *, width=16, frac=10):
        self.spec = spec
        self.fmt = FixedFormat(operator.index(width), operator.index(frac))
        super().__init__({
            "x_in": In(stream.Signature(signed(self.fmt.width))),
            "y_out": Out(stream.Signature(signed(self.fmt.width))),
        })

    def elaborate(self, platform):
        m = Module()
        advance = ~self.y_out.valid | self.y_out.ready
        pipeline = Module()
        m.submodules.pipeline = EnableInserter(advance)(pipeline)
        result = pwl_pipeline(pipeline, self.spec, self.x_in.payload, self.fmt, enable=advance)
        valid = delay(pipeline, self.x_in.valid, PWL_LATENCY, "valid")
        m.d.comb += [self.x_in.ready.eq(advance), self.y_out.valid.eq(valid), self.y_out.payload.eq(result)]
        return m
