"""The host's side of the board link (``hw/link.py`` is the device's; docs/board.md the protocol).

:class:`HostSession` knows nothing of serial ports or simulators: it turns a
design's :class:`StreamPlan` into frames, takes whatever bytes come back, and
says what to send next. ``run --board`` (:func:`run_on_port`, pyserial) and the
cocotb test of the link (``sim/tb_link.py``) both drive the same session, so the
bytes a simulated host sends are the bytes a real one sends.
"""

import binascii
from dataclasses import dataclass, field

import numpy as np

from hw.link import REPLY_CHANNEL, SOF, STATUS, link_streams

from ..errors import UserError

__all__ = ["LinkError", "StreamPlan", "LinkSpec", "frame", "FrameParser", "HostSession", "run_on_port",
           "MAX_RETRIES", "BUFFER_BYTES", "BAUD"]

BUFFER_BYTES = 256  # the device's frame buffer (hw.link.HostLink buffer_bytes)
MAX_RETRIES = 3  # a rejected frame is sent again this many times before the run fails
BAUD = 1_000_000
STATUS_NAMES = {code: name for name, code in STATUS.items()}


class LinkError(RuntimeError):
    """The device rejected a frame too often, sent a corrupt one, or stopped answering."""


@dataclass
class StreamPlan:
    """How one run's raw arrays travel: words into input streams in order, a count of output words back.

    ``sends`` holds ``(stream name, words)`` pairs sent one after another; ``receive`` output words come
    back on the design's output stream; ``unpack`` turns them (int64) into the run's raw output arrays.
    """

    sends: list
    receive: int
    unpack: object  # callable: np.ndarray -> dict


@dataclass(frozen=True)
class LinkSpec:
    """A design's streams as link channels: input names, widths and byte counts; the output's."""

    inputs: tuple
    input_widths: tuple
    output: str
    output_width: int
    output_signed: bool

    @classmethod
    def of(cls, component) -> "LinkSpec":
        inputs, output = link_streams(component)
        widths = tuple(_shape(getattr(component, name)).width for name in inputs)
        out = _shape(getattr(component, output))
        return cls(tuple(inputs), widths, output, out.width, out.signed)

    def word_bytes(self, width: int) -> int:
        return (width + 7) // 8


def _shape(end):
    from amaranth.hdl import Value
    return Value.cast(end.payload).shape()


def frame(channel: int, payload: bytes) -> bytes:
    """One frame: ``SOF``, channel, length (2 bytes LE), payload, CRC-16/CCITT-FALSE (high byte first)."""
    body = bytes([channel]) + len(payload).to_bytes(2, "little") + payload
    return bytes([SOF]) + body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")


def pack_words(words, width: int) -> bytes:
    """Words as ``ceil(width / 8)`` little-endian bytes each (two's complement, ``width`` bits kept)."""
    size, mask = (width + 7) // 8, (1 << width) - 1
    return b"".join((int(word) & mask).to_bytes(size, "little") for word in np.asarray(words).reshape(-1))


def unpack_words(data: bytes, width: int, signed: bool) -> np.ndarray:
    """The inverse of :func:`pack_words` (sign-extended from ``width`` bits when ``signed``)."""
    size = (width + 7) // 8
    words = [int.from_bytes(data[n:n + size], "little") & ((1 << width) - 1) for n in range(0, len(data), size)]
    if signed:
        words = [word - (1 << width) if word >> (width - 1) else word for word in words]
    return np.array(words, dtype=np.int64)


class FrameParser:
    """Bytes in, ``(channel, payload)`` frames out; a frame with a bad CRC raises :class:`LinkError`."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list:
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(bytes([SOF]))
            if start < 0:
                self.buffer.clear()
                return frames
            del self.buffer[:start]
            if len(self.buffer) < 4:
                return frames
            length = int.from_bytes(self.buffer[2:4], "little")
            if len(self.buffer) < 6 + length:
                return frames
            body, crc = bytes(self.buffer[1:4 + length]), bytes(self.buffer[4 + length:6 + length])
            del self.buffer[:6 + length]
            if binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big") != crc:
                raise LinkError(f"corrupt frame from the device (channel {body[0]}, {length} bytes): CRC mismatch")
            frames.append((body[0], body[3:]))


@dataclass
class HostSession:
    """One run over the link, as a state machine without I/O.

    Call :meth:`next_frame` for bytes to send (``None``: wait for the device), :meth:`receive` with every
    byte that arrives, until :attr:`done`. ``corrupt`` (frame indices) flips a byte of those frames' first
    transmission — how the tests show that the device rejects them and the retry recovers.
    """

    spec: LinkSpec
    plan: StreamPlan
    corrupt: tuple = ()
    frames: list = field(init=False)
    rejected: list = field(init=False, default_factory=list)  # (frame index, status name)
    output: bytearray = field(init=False, default_factory=bytearray)

    def __post_init__(self):
        self.frames = []
        for name, words in self.plan.sends:
            channel = self.spec.inputs.index(name)
            width = self.spec.input_widths[channel]
            size = self.spec.word_bytes(width)
            data = pack_words(words, width)
            step = BUFFER_BYTES // size * size
            self.frames += [frame(channel, data[n:n + step]) for n in range(0, len(data), step)]
        self.parser = FrameParser()
        self.position, self.attempts, self.waiting = 0, 0, False

    @property
    def out_bytes(self) -> int:
        return self.plan.receive * self.spec.word_bytes(self.spec.output_width)

    @property
    def done(self) -> bool:
        return self.position == len(self.frames) and len(self.output) >= self.out_bytes

    def next_frame(self) -> bytes | None:
        if self.waiting or self.position == len(self.frames):
            return None
        self.waiting = True
        data = self.frames[self.position]
        if self.position in self.corrupt and self.attempts == 0:
            data = data[:5] + bytes([data[5] ^ 0x01]) + data[6:] if len(data) > 6 else data
        return data

    def receive(self, data: bytes):
        for channel, payload in self.parser.feed(data):
            if channel == REPLY_CHANNEL:
                self._reply(payload[0] if payload else -1)
            else:
                self.output += payload
                if len(self.output) > self.out_bytes:
                    raise LinkError(f"the device sent {len(self.output)} output bytes; {self.out_bytes} expected")

    def _reply(self, status: int):
        if not self.waiting:
            raise LinkError(f"a reply ({STATUS_NAMES.get(status, status)}) with no frame outstanding")
        self.waiting = False
        if status == STATUS["ok"]:
            self.position, self.attempts = self.position + 1, 0
            return
        self.rejected.append((self.position, STATUS_NAMES.get(status, str(status))))
        self.attempts += 1
        if self.attempts > MAX_RETRIES:
            raise LinkError(f"frame {self.position} rejected {self.attempts} times "
                            f"({STATUS_NAMES.get(status, status)})")

    def outputs(self) -> dict:
        words = unpack_words(bytes(self.output[:self.out_bytes]), self.spec.output_width, self.spec.output_signed)
        return self.plan.unpack(words)


def run_on_port(design, raw: dict, port: str, *, baud: int = BAUD, timeout_s: float = 10.0) -> tuple[dict, dict]:
    """``raw`` through the board on serial ``port``: ``(raw outputs, report)``."""
    import time

    import serial

    try:
        plan = design.stream_plan(raw)
    except NotImplementedError as error:
        raise UserError(str(error)) from None
    session = HostSession(LinkSpec.of(design.component()), plan)
    try:
        line = serial.Serial(port, baud, timeout=0.05, exclusive=True)
    except (serial.SerialException, ValueError) as error:
        raise UserError(f"cannot open serial port {port}: {error}") from None
    started = time.monotonic()
    with line:
        quiet_since = time.monotonic()
        while not session.done:
            data = session.next_frame()
            if data is not None:
                line.write(data)
            received = line.read(4096)
            if received:
                session.receive(received)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > timeout_s:
                raise LinkError(f"no answer from {port} for {timeout_s:g} s "
                                f"(frame {session.position} of {len(session.frames)})")
    seconds = time.monotonic() - started
    return session.outputs(), {"seconds": round(seconds, 3), "frames": len(session.frames),
                               "rejected": len(session.rejected), "bytes_out": sum(map(len, session.frames)),
                               "bytes_in": len(session.output)}


__all__ += ["pack_words", "unpack_words"]


def weights_then_vectors(w_words, x_raw, n_out: int, *, output: str = "y_raw") -> StreamPlan:
    """The matrix-vector engines' plan: ``w_words`` into ``w_in``, the rows of ``x_raw`` into ``x_in``;
    ``n_out`` words per row back as ``output`` (batch × n_out)."""
    batch = len(x_raw)
    return StreamPlan(sends=[("w_in", np.asarray(w_words).reshape(-1)), ("x_in", np.asarray(x_raw).reshape(-1))],
                      receive=batch * n_out, unpack=lambda words: {output: words.reshape(batch, n_out)})


__all__ += ["weights_then_vectors"]


def stream_through(sends: list, receive: int, unpack) -> StreamPlan:
    """A plan from its parts: ``sends`` ``(stream, words)`` in order (words flattened, C order)."""
    return StreamPlan(sends=[(name, np.asarray(words).reshape(-1)) for name, words in sends], receive=receive,
                      unpack=unpack)


__all__ += ["stream_through"]
