"""Streaming piecewise-linear activation (C-LSTM's sigmoid and tanh)."""

import operator

from amaranth.hdl import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from models.fixed import FixedFormat
from models.pwl import SLOPE_FRAC, SLOPE_WIDTH, PWLSpec, pwl_table

from .common.fixed import round_shift, saturate

__all__ = ["pwl_expression", "PWLActivation"]


def pwl_expression(m: Module, spec: PWLSpec, x, fmt: FixedFormat, name: str = "pwl"):
    """Combinational ``PWL_f(x)`` for a signed ``Q(fmt)`` value: comparators, a table, one multiplier.

    The table lookups go through signals (added to ``m.d.comb``) so the
    arithmetic after them is built once, not once per table entry.
    """
    width = fmt.width
    xs, ys, slopes, below, above = pwl_table(spec, fmt)
    segment = Signal(range(spec.segments), name=f"{name}_segment")
    x_i, y_i = Signal(signed(width + 1), name=f"{name}_x_i"), Signal(signed(width + 1), name=f"{name}_y_i")
    m_i = Signal(signed(SLOPE_WIDTH), name=f"{name}_m_i")
    m.d.comb += [
        segment.eq(sum((x >= int(xs[i])) for i in range(1, spec.segments))),  # interior breakpoints ≤ x
        x_i.eq(Array(Const(int(v), signed(width + 1)) for v in xs[:-1])[segment]),
        y_i.eq(Array(Const(int(v), signed(width + 1)) for v in ys[:-1])[segment]),
        m_i.eq(Array(Const(int(v), signed(SLOPE_WIDTH)) for v in slopes)[segment]),
    ]
    inside = y_i + round_shift(m_i * (x - x_i), SLOPE_FRAC)
    return Mux(x < int(xs[0]), below, Mux(x >= int(xs[-1]), above, saturate(inside, width)))


class PWLActivation(wiring.Component):
    """``y = PWL_f(x)`` on a stream, bit-exact with ``models/pwl.py``.

    :func:`pwl_expression` — breakpoint comparators, the segment's ``x_i``,
    ``y_i``, ``m_i`` from a table, ``y_i + ((m_i (x − x_i)) >> 15)`` with
    one multiplier, saturation — followed by the output register, which
    loads whenever it is empty or being read.

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

    Latency 1 cycle; throughput one sample per cycle.
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
        m.d.comb += self.x_in.ready.eq(advance)
        with m.If(advance):
            m.d.sync += [self.y_out.valid.eq(self.x_in.valid),
                         self.y_out.payload.eq(pwl_expression(m, self.spec, self.x_in.payload, self.fmt))]
        return m
