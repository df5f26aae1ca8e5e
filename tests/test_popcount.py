"""Both popcounts (hw/common/popcount.py) count exactly, with the register stages their helpers state."""

import numpy as np
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from hw.common.popcount import carry_save_popcount, carry_save_stages, popcount, popcount_stages


def _counts(build, n, words, advance_every=1):
    """Feed ``words`` (n-bit integers) one per advance, with ``advance`` high every ``advance_every``-th
    cycle; return the output sampled after each advance and the stage count ``build`` reported."""
    m = Module()
    bits, advance = Signal(n), Signal()
    count, stages = build(m, [bits[i] for i in range(n)], advance)
    seen = []

    async def bench(ctx):
        for word in words:
            for idle in range(advance_every - 1):
                ctx.set(advance, 0)
                await ctx.tick()
            ctx.set(bits, int(word))
            ctx.set(advance, 1)
            await ctx.tick()
            seen.append(ctx.get(count))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen, stages


def _carry_save(levels_per_stage):
    def build(m, bits, advance):
        count = carry_save_popcount(m, bits, advance=advance, levels_per_stage=levels_per_stage)
        return count, carry_save_stages(len(bits), levels_per_stage)
    return build


def _adder_tree(levels_per_stage):
    def build(m, bits, advance):
        count = popcount(m, bits, advance=advance, levels_per_stage=levels_per_stage)
        return count, popcount_stages(len(bits), levels_per_stage)
    return build


@settings(max_examples=12, deadline=None)
@given(n=st.integers(2, 70), levels_per_stage=st.integers(1, 3), stall=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1), form=st.sampled_from(["carry-save", "adder-tree"]))
def test_popcount_counts_every_word_after_its_stages(n, levels_per_stage, stall, seed, form):
    words = [int(w) for w in np.random.default_rng(seed).integers(0, 1 << min(n, 62), size=12)] + [(1 << n) - 1]
    build = _carry_save(levels_per_stage) if form == "carry-save" else _adder_tree(levels_per_stage)
    seen, stages = _counts(build, n, words, stall)
    # After advance k the output holds the count of the word given ``stages`` advances earlier.
    assert seen[stages - 1:] == [bin(word).count("1") for word in words[:len(words) - stages + 1]]
