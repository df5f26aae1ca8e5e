"""Population counts, optionally pipelined: a balanced adder tree (:func:`popcount`, the SC counter form
in ``hw/sc.py``) and a carry-save Wallace tree (:func:`carry_save_popcount`, the RLF-GRNG in
``hw/grng.py``)."""

from amaranth.hdl import Cat, Const, Signal

from models.fixed import ceil_div

__all__ = ["carry_save_popcount", "carry_save_stages", "popcount", "popcount_stages"]


def popcount(m, bits: list, *, advance=None, levels_per_stage: int = 0, name: str = "popcount"):
    """Number of ones in ``bits``: a balanced adder tree, each level a named signal.

    With ``levels_per_stage`` > 0 every that many levels (and the last) end in registers that load on
    ``advance``: the count of the bits of ``advance``'s cycle comes out :func:`popcount_stages` advances later.
    """
    terms, level = list(bits), 0
    while len(terms) > 1:
        pairs = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
        level += 1
        registered = levels_per_stage and (level % levels_per_stage == 0 or len(pairs) == 1)
        terms = [_node(m, expression, f"{name}{level - 1}_{index}", registered, advance)
                 for index, expression in enumerate(pairs)]
    return terms[0]


def _node(m, value, name: str, registered, advance, reset_less: bool = False):
    """``value`` as a named signal: a register loading on ``advance``, or a wire."""
    node = Signal(len(value), name=name, reset_less=reset_less)
    if registered:
        with m.If(advance):
            m.d.sync += node.eq(value)
    else:
        m.d.comb += node.eq(value)
    return node


def popcount_stages(n: int, levels_per_stage: int) -> int:
    """Register stages of :func:`popcount` over ``n`` bits (``levels_per_stage`` > 0)."""
    levels = max(1, (n - 1).bit_length())
    return ceil_div(levels, levels_per_stage)


def _full_adder_level(heights: list[int]) -> list[int]:
    """Column heights after one level of full adders (each takes 3 bits of a column: a sum bit stays,
    a carry bit moves one column up; leftover bits pass)."""
    after = [0] * (len(heights) + 1)
    for weight, height in enumerate(heights):
        adders = height // 3
        after[weight] += adders + height % 3
        after[weight + 1] += adders
    while after and after[-1] == 0:
        after.pop()
    return after


def carry_save_levels(n: int) -> int:
    """Full-adder levels of :func:`carry_save_popcount` over ``n`` bits (then one final adder)."""
    heights, levels = [n], 0
    while max(heights) > 2:
        heights, levels = _full_adder_level(heights), levels + 1
    return levels


def carry_save_stages(n: int, levels_per_stage: int) -> int:
    """Register stages of :func:`carry_save_popcount` over ``n`` bits."""
    return ceil_div(carry_save_levels(n) + 1, levels_per_stage)


def carry_save_popcount(m, bits: list, *, advance, levels_per_stage: int, name: str = "popcount"):
    """Number of ones in ``bits`` (``n >= 2``): a Wallace tree of full adders, then one carry-propagate add.

    Columns of equally weighted bits are reduced 3 → 2 per full adder (two LUT4s: sum and majority, one
    bit fewer each) until no column holds more than two bits; the two remaining rows are added. Every
    ``levels_per_stage`` levels (counting the final add, which is always registered) end in registers that
    load on ``advance``: the count of ``advance``'s bits comes out :func:`carry_save_stages` advances later.
    The registers hold data only (the caller tracks which hold a real step), so a reset leaves them.
    About ``2n`` LUT4s against the adder tree's ``3n`` (:func:`popcount`).
    """
    columns, level = [list(bits)], 0

    def stage(value, label, registered):
        return _node(m, value, f"{name}{label}", registered, advance, reset_less=True)

    while max(len(column) for column in columns) > 2:
        level += 1
        registered = level % levels_per_stage == 0
        reduced = [[] for _ in range(len(columns) + 1)]
        for weight, column in enumerate(columns):
            full = len(column) // 3
            for i in range(full):
                a, b, c = column[3 * i:3 * i + 3]
                reduced[weight].append(a ^ b ^ c)
                reduced[weight + 1].append((a & b) | (a & c) | (b & c))
            reduced[weight] += column[3 * full:]
        columns = [[stage(bit, f"{level}_{weight}_{i}", registered) for i, bit in enumerate(column)]
                   for weight, column in enumerate(reduced) if column or weight < len(reduced) - 1]
    rows = [Cat(*(column[row] if len(column) > row else Const(0) for column in columns)) for row in (0, 1)]
    return stage(rows[0] + rows[1], "sum", registered=True)
