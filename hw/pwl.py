"""Streaming piecewise-linear activation (C-LSTM's sigmoid and tanh)."""

import operator

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.fixed import FixedFormat
from models.pwl import SLOPE_FRAC, SLOPE_WIDTH, PWLSpec, pwl_table

from .common.fixed import round_shift, saturate

__all__ = ["PWLActivation"]


class PWLActivation(wiring.Component):
    """``y = PWL_f(x)`` on a stream, bit-exact with ``models/pwl.py``.

    Stage 1 compares ``x`` with the breakpoints (one comparator each) and
    registers the segment's ``x_i``, ``y_i``, ``m_i`` and the clamp flags;
    stage 2 computes ``y_i + ((m_i (x − x_i)) >> 15)`` (one multiplier),
    saturates and registers the output. Both stages advance together when the
    output register is empty or being read.

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

    Latency 2 cycles; throughput one sample per cycle.
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
        width = self.fmt.width
        xs, ys, slopes, below, above = pwl_table(self.spec, self.fmt)
        segments = self.spec.segments
        x = self.x_in.payload

        # Segment index: how many interior breakpoints are ≤ x.
        segment = sum((x >= int(xs[i])) for i in range(1, segments))
        x_i = Array(Const(int(v), signed(width + 1)) for v in xs[:-1])
        y_i = Array(Const(int(v), signed(width + 1)) for v in ys[:-1])
        m_i = Array(Const(int(v), signed(SLOPE_WIDTH)) for v in slopes)

        advance = ~self.y_out.valid | self.y_out.ready
        m.d.comb += self.x_in.ready.eq(advance)

        s1_valid, s1_below, s1_above = Signal(), Signal(), Signal()
        s1_offset = Signal(signed(width + 2))
        s1_base = Signal(signed(width + 1))
        s1_slope = Signal(signed(SLOPE_WIDTH))
        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(self.x_in.valid),
                s1_below.eq(x < int(xs[0])), s1_above.eq(x >= int(xs[-1])),
                s1_offset.eq(x - x_i[segment]), s1_base.eq(y_i[segment]), s1_slope.eq(m_i[segment]),
                self.y_out.valid.eq(s1_valid),
            ]
            inside = s1_base + round_shift(s1_slope * s1_offset, SLOPE_FRAC)
            m.d.sync += self.y_out.payload.eq(
                Mux(s1_below, below, Mux(s1_above, above, saturate(inside, width))))
        return m
