"""The board link (hw/link.py, accelgen/flows/link.py): protocol pieces against independent references,
the device's answers to bad frames, and every design with a stream plan through the link in Verilator,
bit-exact with its model."""

import binascii

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

import accelgen
from accelgen.flows.board import simulate_link
from sim.host_link import (BUFFER_BYTES, FrameParser, HostSession, LinkError, LinkSpec, frame, pack_words,
                           unpack_words)
from accelgen.flows.simulate import random_inputs
from hw.link import REPLY_CHANNEL, STATUS, HostLink, crc16_update, uart_bits


@settings(max_examples=20, deadline=None)
@given(data=st.binary(min_size=1, max_size=40))
def test_hardware_crc_step_equals_binascii(data):
    crc, byte = Signal(16), Signal(8)
    step = crc16_update(crc, byte)
    found = []

    async def evaluate(ctx):
        value = 0xFFFF
        for item in data:
            ctx.set(crc, value)
            ctx.set(byte, item)
            value = ctx.get(step)
        found.append(value)

    sim = Simulator(Module())
    sim.add_testbench(evaluate)
    sim.run()
    assert found == [binascii.crc_hqx(data, 0xFFFF)]


@settings(max_examples=50, deadline=None)
@given(width=st.integers(1, 32), signed=st.booleans(), data=st.data())
def test_words_round_trip_through_bytes(width, signed, data):
    low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    words = data.draw(st.lists(st.integers(low, high), max_size=20))
    packed = pack_words(np.array(words, dtype=np.int64), width)
    assert len(packed) == len(words) * ((width + 7) // 8)
    assert unpack_words(packed, width, signed).tolist() == words


def test_parser_takes_frames_in_pieces_and_rejects_a_bad_crc():
    stream = frame(0, b"\x01\x02") + b"\x00junk" + frame(REPLY_CHANNEL, b"\x00")
    parser, frames = FrameParser(), []
    for n in range(0, len(stream), 3):
        frames += parser.feed(stream[n:n + 3])
    assert frames == [(0, b"\x01\x02"), (REPLY_CHANNEL, b"\x00")]
    damaged = bytearray(frame(0, b"\x07\x08"))
    damaged[4] ^= 0x10
    with pytest.raises(LinkError, match="CRC"):
        FrameParser().feed(bytes(damaged))


def test_session_splits_sends_into_whole_words_and_retries_a_rejected_frame():
    design = accelgen.design("dense-fc", n_in=200, n_out=2, parallelism=1)
    raw = random_inputs(design, np.random.default_rng(0), 1)
    session = HostSession(LinkSpec.of(design.component()), design.stream_plan(raw))
    sizes = [int.from_bytes(data[2:4], "little") for data in session.frames]
    assert sizes == [BUFFER_BYTES] * 3 + [800 - 3 * BUFFER_BYTES, BUFFER_BYTES, 400 - BUFFER_BYTES]  # w, then x
    first = session.next_frame()
    assert session.next_frame() is None, "stop and wait: nothing before the reply"
    session.receive(frame(REPLY_CHANNEL, bytes([STATUS["crc"]])))
    assert session.next_frame() == first and session.rejected == [(0, "crc")]


# -- the device's answers, in Amaranth's simulator (a frame at a time, no Verilator build) -------------------------


def device_replies(frames: list[bytes], divisor: int = 4) -> list[tuple[int, bytes]]:
    """Send ``frames`` over ``rx`` of a small design behind the link; every frame it sends back."""
    design = accelgen.design("pool", channels=1, size=2)
    dut = HostLink(design.component(), divisor=divisor)
    line = []  # tx, cycle by cycle

    async def host(ctx):
        levels = [1] * 4
        for data in frames:  # each followed by time to wait out a bad frame and send two 7-byte frames
            levels += [bit for value in data for bit in uart_bits(value)] + [1] * 200
        for level in levels:
            ctx.set(dut.rx, level)
            for _ in range(divisor):
                await ctx.tick()
                line.append(ctx.get(dut.tx))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(host)
    sim.run()
    return FrameParser().feed(uart_bytes(line, divisor))


def uart_bytes(line: list[int], divisor: int) -> bytes:
    """The 8N1 bytes on a line sampled once per cycle: each start bit's falling edge, then mid-bit samples."""
    found, n = bytearray(), 1
    while n < len(line) - 10 * divisor:
        if line[n - 1] and not line[n]:
            middle = n + divisor // 2
            found.append(sum(line[middle + (bit + 1) * divisor] << bit for bit in range(8)))
            n = middle + 9 * divisor
        n += 1
    return bytes(found)


def test_device_answers_bad_channel_length_and_crc_and_stays_usable():
    good = frame(0, bytes([1, 0, 2, 0, 3, 0, 4, 0]))  # one 2×2 image, one channel: its max comes back
    damaged = bytearray(good)
    damaged[6] ^= 0x40
    replies = device_replies([frame(1, b"\x00\x00"), frame(0, b"\x01\x00\x02"), bytes(damaged), good])
    statuses = [payload[0] for channel, payload in replies if channel == REPLY_CHANNEL]
    assert statuses == [STATUS["channel"], STATUS["length"], STATUS["crc"], STATUS["ok"]]
    outputs = [payload for channel, payload in replies if channel == 0]
    assert outputs == [bytes([4, 0])]


# -- every design with a stream plan, through the link in Verilator ------------------------------------------------

DEFAULT = ["dense-fc", "intergrad", "rlf-grng"]  # the stream shapes: inputs and outputs, matrices, no input
SLOW = ["circulant-fc", "circulant-lstm", "circulant-gru", "conv", "net", "pwl", "pool", "sc-layer", "bnn-mlp",
        "wallace-grng", "clt-grng", "lfsr-grng", "sc-net", "sc-cnn"]


def through_link(name: str, corrupt=()):
    design = accelgen.design(name)
    raw = random_inputs(design, np.random.default_rng(7), 2)
    outputs, counters = simulate_link(design, raw, corrupt=corrupt)
    expected = design.golden(raw)
    for key, value in expected.items():
        assert np.array_equal(outputs[key], value), f"{name}: {key} differs from the model"
    return counters


@pytest.mark.parametrize("name", DEFAULT)
def test_design_through_link_equals_model(name):
    counters = through_link(name, corrupt=(0,) if name == "dense-fc" else ())
    if name == "dense-fc":
        assert counters["rejected"] == 1 and counters["statuses"] == ["crc"] and counters["error_led"] == 1
    else:
        assert counters["rejected"] == 0 and counters["error_led"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_design_through_link_equals_model_slow(name):
    assert through_link(name)["rejected"] == 0


def test_every_design_on_the_link_is_tested_through_it():
    on_link = {name for name in accelgen.designs() if accelgen.design(name).on_link}
    assert on_link == set(DEFAULT) | set(SLOW)
    for name in set(accelgen.designs()) - on_link:  # docs/board.md says why each is not
        with pytest.raises(NotImplementedError):
            accelgen.design(name).stream_plan({})
