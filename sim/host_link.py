"""The host's side of the board link (``hw/link.py`` is the device's; docs/board.md the protocol).

:class:`HostSession` knows nothing of serial ports or simulators: it turns a
:class:`StreamPlan` into frames, takes whatever bytes come back, and says what
to send next. ``accelgen run --board`` (``accelgen/flows/link.py``, pyserial)
and the cocotb test of the link (``sim/tb_link.py``) both drive it, so the
bytes a simulated host sends are the bytes a real one sends.
"""

import binascii
from dataclasses import dataclass, field

import numpy as np

from hw.link import BUFFER_BYTES, REPLY_CHANNEL, SOF, STATUS, TAKE, TAKE_WIDTH, link_streams, word_bytes

__all__ = ["LinkError", "StreamPlan", "LinkSpec", "frame", "pack_words", "unpack_words", "FrameParser", "HostSession",
           "BUFFER_BYTES", "MAX_RETRIES"]

MAX_RETRIES = 3  # a rejected frame is sent again this many times before the run fails
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
        widths = tuple(TAKE_WIDTH if name == TAKE else _shape(getattr(component, name)).width for name in inputs)
        out = _shape(getattr(component, output))
        return cls(tuple(inputs), widths, output, out.width, out.signed)


def _shape(end):
    from amaranth.hdl import Value
    return Value.cast(end.payload).shape()


def frame(channel: int, payload: bytes) -> bytes:
    """One frame: ``SOF``, channel, length (2 bytes LE), payload, CRC-16/CCITT-FALSE (high byte first)."""
    body = bytes([channel]) + len(payload).to_bytes(2, "little") + payload
    return bytes([SOF]) + body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")


def pack_words(words, width: int) -> bytes:
    """Words as ``ceil(width / 8)`` little-endian bytes each (two's complement, ``width`` bits kept)."""
    size, mask = word_bytes(width), (1 << width) - 1
    return b"".join((int(word) & mask).to_bytes(size, "little") for word in np.asarray(words).reshape(-1))


def unpack_words(data: bytes, width: int, signed: bool) -> np.ndarray:
    """The inverse of :func:`pack_words` (sign-extended from ``width`` bits when ``signed``)."""
    size = word_bytes(width)
    words = [int.from_bytes(data[n:n + size], "little") & ((1 << width) - 1) for n in range(0, len(data), size)]
    if signed:
        words = [word - (1 << width) if word >> (width - 1) else word for word in words]
    return np.array(words, dtype=np.int64 if width < 64 else object)


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
            size = word_bytes(width)
            data = pack_words(words, width)
            step = BUFFER_BYTES // size * size
            self.frames += [frame(channel, data[n:n + step]) for n in range(0, len(data), step)]
        self.parser = FrameParser()
        self.position, self.attempts, self.waiting = 0, 0, False

    @property
    def out_bytes(self) -> int:
        return self.plan.receive * word_bytes(self.spec.output_width)

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

    def received(self) -> bytes:
        """The output stream's bytes, as many as the plan expects."""
        return bytes(self.output[:self.out_bytes])

    def words(self) -> np.ndarray:
        """The output words received (int64; Python ints from 64 bits up)."""
        return unpack_words(self.received(), self.spec.output_width, self.spec.output_signed)

    def outputs(self) -> dict:
        return self.plan.unpack(self.words())
