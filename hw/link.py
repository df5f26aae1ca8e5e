"""The host link: a design's streams carried over a UART in framed, CRC-checked messages (docs/board.md).

Frames, both ways: ``0xA5``, channel (1 byte), payload length (2 bytes, little-endian), payload, and
CRC-16/CCITT-FALSE (polynomial ``0x1021``, initial ``0xFFFF``) of channel, length and payload, high byte
first. A stream word takes ``ceil(width / 8)`` payload bytes, little-endian. ``accelgen/flows/link.py``
is the host's side of the same protocol.

- host → device: channel ``c`` is the design's ``c``-th input stream (signature order). The device
  stores the frame, checks it, delivers its words to the stream and answers on channel ``0xFF`` with one
  status byte (:data:`STATUS`). The host sends the next frame only after the answer: nothing is ever
  dropped for want of room.
- device → host: channel 0 carries the output stream's words, up to ``out_words`` a frame; a frame
  leaves when the buffer is full or the stream has been quiet for two byte times.
"""

from types import SimpleNamespace

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .common.buffer import DISTRIBUTED, SkidBuffer, wrapped_increment

__all__ = ["SOF", "REPLY_CHANNEL", "STATUS", "TAKE", "TAKE_WIDTH", "BUFFER_BYTES", "OUT_WORDS", "UARTReceiver",
           "UARTTransmitter", "crc16_update", "HostLink", "stream_members", "link_streams", "word_bytes", "uart_bits"]

SOF = 0xA5
REPLY_CHANNEL = 0xFF
TAKE = "take"  # a generator's one channel: 32-bit counts of output words the host asks for
TAKE_WIDTH = 32
BUFFER_BYTES = 256  # the largest host payload the device stores: one frame
OUT_WORDS = 64  # output words per device frame at most
STATUS = {"ok": 0, "crc": 1, "channel": 2, "length": 3, "truncated": 4}


def _crc16_terms() -> list[set]:
    """For each bit of the CRC after one byte: the set of terms XORed into it, ``("c", i)`` for bit ``i`` of
    the CRC before and ``("d", i)`` for bit ``i`` of the byte (the shift register run eight times, in GF(2))."""
    crc = [{("c", i)} for i in range(16)]
    for bit in reversed(range(8)):
        feedback = crc[15] ^ {("d", bit)}
        crc = [feedback, *crc[0:4], crc[4] ^ feedback, *crc[5:11], crc[11] ^ feedback, *crc[12:15]]
    return crc


_CRC16_TERMS = _crc16_terms()


def crc16_update(crc, byte):
    """CRC-16/CCITT-FALSE (polynomial ``0x1021``, most significant bit first) of ``crc`` after ``byte``:
    each bit one XOR of the terms :func:`_crc16_terms` found."""
    sources = {"c": crc, "d": byte}
    bits = []
    for terms in _CRC16_TERMS:
        value = Const(0, 1)
        for kind, index in sorted(terms):
            value = value ^ sources[kind][index]
        bits.append(value)
    return Cat(*bits)


def stream_members(component) -> tuple[list[str], list[str]]:
    """The names of ``component``'s input and output streams, in signature order."""
    inputs, outputs = [], []
    for name, member in component.signature.members.items():
        if member.is_signature and isinstance(member.signature, stream.Signature):
            (inputs if member.flow == In else outputs).append(name)
    return inputs, outputs


def link_streams(component) -> tuple[list[str], str]:
    """The link's input channels and ``component``'s one output stream: its input streams, or for a
    generator (no input stream) the one channel :data:`TAKE`. ``ValueError`` when it has more than 255
    input streams or not exactly one output stream."""
    inputs, outputs = stream_members(component)
    if len(outputs) != 1:
        raise ValueError(f"the host link carries one output stream; the design has {len(outputs)}")
    if len(inputs) > REPLY_CHANNEL:
        raise ValueError(f"the host link carries at most {REPLY_CHANNEL} input streams; the design has {len(inputs)}")
    return inputs or [TAKE], outputs[0]


def word_bytes(width: int) -> int:
    """Payload bytes of one ``width``-bit word."""
    return (width + 7) // 8


def uart_bits(value: int) -> list[int]:
    """The line levels of one 8N1 byte: start bit, data least significant first, stop bit."""
    return [0, *((value >> n) & 1 for n in range(8)), 1]


class UARTReceiver(wiring.Component):
    """8N1 receiver: ``rx`` (idle high) sampled mid-bit at ``divisor`` clock cycles per bit.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4.

    Members
    -------
    rx : In(1)
        Through a two-register synchronizer.
    data : Out(stream.Signature(8))
        One cycle of ``valid`` per byte (``ready`` is not looked at: the protocol above never stalls it).

    Latency
    -------
    A byte is out about ``9.5 · divisor + 3`` cycles after its start bit's falling edge. A start bit
    that is high again in its middle is a glitch and ignored.

    Throughput
    ----------
    One byte per ``10 · divisor`` cycles (the line's rate).
    """

    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError(f"divisor={divisor} out of range: at least 4 clock cycles per bit")
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "data": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        synced = Signal(init=1)
        m.d.sync += [synced.eq(self.rx), line.eq(synced)]
        timer = Signal(range(self.divisor))
        bits, shift = Signal(range(10)), Signal(8)
        m.d.sync += self.data.valid.eq(0)
        with m.FSM():
            with m.State("idle"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)  # to the middle of the start bit
                    m.next = "start"
            with m.State("start"):  # a start bit still low in its middle; a glitch otherwise
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(0)]
                    m.next = "bits"
                    with m.If(line):
                        m.next = "idle"
            with m.State("bits"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(bits + 1), shift.eq(Cat(shift[1:], line))]
                    with m.If(bits == 7):
                        m.next = "stop"
            with m.State("stop"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [self.data.valid.eq(line), self.data.payload.eq(shift)]  # framing error: dropped
                    m.next = "idle"
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter at ``divisor`` clock cycles per bit.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit.

    Members
    -------
    data : In(stream.Signature(8))
        ``ready`` while the line is idle.
    tx : Out(1)
        Idle high, from a register.

    Latency
    -------
    The start bit goes out one cycle after a byte is accepted.

    Throughput
    ----------
    One byte per ``10 · divisor`` cycles.
    """

    def __init__(self, divisor: int):
        self.divisor = divisor
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        timer, bits = Signal(range(self.divisor)), Signal(range(11))
        frame = Signal(10, init=0x3FF)  # stop bit, data, start bit: shifted out least significant first
        m.d.comb += self.data.ready.eq(bits == 0)
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [frame.eq(Cat(Const(0, 1), self.data.payload, Const(1, 1))), bits.eq(10), timer.eq(0)]
        with m.Elif(bits != 0):
            m.d.sync += timer.eq(wrapped_increment(timer, self.divisor))
            with m.If(timer == 0):
                m.d.sync += [self.tx.eq(frame[0]), frame.eq(Cat(frame[1:], Const(1, 1)))]
            with m.If(timer == self.divisor - 1):
                m.d.sync += bits.eq(bits - 1)
        return m


class HostLink(wiring.Component):
    """A design behind a UART: host frames in, output frames and status replies out (module docstring).

    Parameters
    ----------
    design : wiring.Component
        Its input streams become channels ``0 …``; it must have exactly one output stream. A generator
        (no input stream) gets channel 0, :data:`TAKE`: each 32-bit word there lets that many more output
        words leave.
    divisor : int
        Clock cycles per UART bit (``f_clk / baud``).
    buffer_bytes : int
        The largest host payload the device stores (one frame).
    out_words : int
        Output words per device frame at most.

    Members
    -------
    rx : In(1)
    tx : Out(1)
    frames : Out(1)
        Toggles with each frame delivered (an activity LED).
    error : Out(1)
        Stays high after the first rejected frame.

    Latency
    -------
    A host frame's words reach the design after its last byte, its CRC check and two cycles a byte; its
    reply follows the last word's delivery. Output words leave in a frame when ``out_words`` wait or two
    byte times after the last one.

    Throughput
    ----------
    The link's: ``baud / 10`` bytes per second each way, less the frames' six bytes and, inbound, one
    reply per frame (docs/board.md).
    """

    def __init__(self, design, *, divisor: int, buffer_bytes: int = BUFFER_BYTES, out_words: int = OUT_WORDS):
        self.design, self.divisor = design, divisor
        self.buffer_bytes, self.out_words = buffer_bytes, out_words
        self.inputs, self.output = link_streams(design)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "frames": Out(1), "error": Out(1)})

    @property
    def quiet_cycles(self) -> int:
        """Two byte times and a bit: a line this long without a byte has ended its frame."""
        return 24 * self.divisor

    def elaborate(self, platform):
        m = Module()
        m.submodules.design = self.design
        # Register slices at the design's edges: no path runs from the design's logic into the link's.
        ends = {}  # stream name → the link's side of its slice
        allowed, moved = Const(1), Signal()  # the output may move; it moves
        if self.inputs == [TAKE]:  # a generator: its words leave only as many as the host has asked for
            ends[TAKE] = take = SimpleNamespace(payload=Signal(TAKE_WIDTH, name="take_count"),
                                                valid=Signal(name="take_valid"), ready=Const(1))
            allowed = self._budget(m, take, moved)
        for name in [*self.inputs, self.output]:
            if name == TAKE:
                continue
            end = getattr(self.design, name)
            m.submodules[f"{name}_slice"] = slice_ = SkidBuffer(shape=Value.cast(end.payload).shape())
            if name == self.output:
                wiring.connect(m, end, slice_.input)
                ends[name] = slice_.output
            else:
                wiring.connect(m, slice_.output, end)
                ends[name] = slice_.input
        m.submodules.receiver = receiver = UARTReceiver(self.divisor)
        m.submodules.transmitter = transmitter = UARTTransmitter(self.divisor)
        m.d.comb += [receiver.rx.eq(self.rx), self.tx.eq(transmitter.tx)]
        reply, reply_status, replied = Signal(), Signal(8), Signal()
        self._receive(m, receiver.data, [ends[name] for name in self.inputs], reply, reply_status, replied)
        self._transmit(m, transmitter.data, ends[self.output], allowed, moved, reply, reply_status, replied)
        return m

    def _budget(self, m, take, moved):
        """Output words asked for and not yet ``moved`` (a register); returns "the output may move"."""
        budget = Signal(TAKE_WIDTH + 1, name="take_budget")
        m.d.sync += budget.eq(budget + Mux(take.valid, take.payload, 0) - moved)
        return budget != 0

    # -- host → device ------------------------------------------------------------------------------------------------

    def _receive(self, m, data, targets, reply, reply_status, replied):
        """Parse, store and check a host frame; deliver its words; ask the transmitter for the reply."""
        sizes = [word_bytes(Value.cast(target.payload).shape().width) for target in targets]
        m.submodules.frame = frame = memory.Memory(shape=8, depth=self.buffer_bytes, init=[])
        write, read = frame.write_port(), frame.read_port(domain="sync")
        channel, length, index = Signal(8), Signal(16), Signal(16)
        crc = Signal(16, init=0xFFFF)
        quiet = Signal(range(self.quiet_cycles + 1))  # cycles since the last byte, saturating
        status = Signal(8)
        size = Signal(range(max(sizes) + 1))  # bytes per word of the frame's channel
        m.d.comb += size.eq(Array(Const(s) for s in sizes)[channel])
        spare = Signal(range(max(sizes)))  # payload bytes received past whole words
        got = data.valid
        m.d.sync += quiet.eq(Mux(got, 0, Mux(quiet == self.quiet_cycles, quiet, quiet + 1)))
        gone_quiet = quiet == self.quiet_cycles
        with m.If(got):
            m.d.sync += crc.eq(crc16_update(crc, data.payload))
        m.d.comb += [write.addr.eq(index), write.data.eq(data.payload), read.addr.eq(index)]
        word = Signal(8 * max(sizes))
        place = Signal(range(max(sizes)))

        def or_truncated():
            """A frame's line gone quiet before its end: answer "truncated"."""
            with m.Elif(gone_quiet):
                m.d.sync += status.eq(STATUS["truncated"])
                m.next = "answer"

        with m.FSM():
            with m.State("hunt"):
                m.d.sync += crc.eq(0xFFFF)
                with m.If(got & (data.payload == SOF)):
                    m.next = "channel"
            for state, taken, nxt in (("channel", [channel.eq(data.payload)], "length0"),
                                      ("length0", [length[:8].eq(data.payload)], "length1"),
                                      ("length1", [length[8:].eq(data.payload), index.eq(0), spare.eq(0)], "payload"),
                                      ("crc0", [], "crc1"),
                                      ("crc1", [index.eq(0), place.eq(0)], "check")):
                with m.State(state):
                    with m.If(got):
                        m.d.sync += taken
                        m.next = nxt
                    or_truncated()
            with m.State("payload"):
                with m.If(channel >= len(self.inputs)):
                    m.d.sync += status.eq(STATUS["channel"])
                    m.next = "drain"
                with m.Elif((length == 0) | (length > self.buffer_bytes)):
                    m.d.sync += status.eq(STATUS["length"])
                    m.next = "drain"
                with m.Elif(index == length):
                    with m.If(spare != 0):  # not a whole number of words
                        m.d.sync += status.eq(STATUS["length"])
                        m.next = "drain"
                    with m.Else():
                        m.next = "crc0"
                with m.Elif(got):
                    m.d.comb += write.en.eq(1)
                    m.d.sync += [index.eq(index + 1), spare.eq(wrapped_increment(spare, size))]
                or_truncated()
            with m.State("check"):  # the CRC over the frame and its own CRC leaves zero
                with m.If(crc != 0):
                    m.d.sync += status.eq(STATUS["crc"])
                    m.next = "answer"
                with m.Else():
                    m.d.sync += status.eq(STATUS["ok"])
                    m.next = "fetch"
            with m.State("fetch"):  # the read port registers index; its byte is there next cycle
                with m.If(index == length):
                    m.next = "answer"
                with m.Else():
                    m.next = "load"
            with m.State("load"):
                m.d.sync += [word.word_select(place, 8).eq(read.data), index.eq(index + 1)]
                with m.If(place == size - 1):
                    m.d.sync += place.eq(0)
                    m.next = "deliver"
                with m.Else():
                    m.d.sync += place.eq(place + 1)
                    m.next = "fetch"
            with m.State("deliver"):
                for number, target in enumerate(targets):
                    width = Value.cast(target.payload).shape().width
                    m.d.comb += Value.cast(target.payload).eq(word[:width])
                    with m.If(channel == number):
                        m.d.comb += target.valid.eq(1)
                        with m.If(target.ready):
                            m.next = "fetch"
            with m.State("drain"):  # a bad header: wait out the rest of the frame, then answer
                with m.If(gone_quiet):
                    m.next = "answer"
            with m.State("answer"):
                m.d.comb += reply.eq(1)
                m.d.sync += reply_status.eq(status)
                with m.If(replied):
                    m.d.sync += self.error.eq(self.error | (status != STATUS["ok"]))
                    m.d.sync += self.frames.eq(self.frames ^ (status == STATUS["ok"]))
                    m.next = "hunt"

    # -- device → host ------------------------------------------------------------------------------------------------

    def _transmit(self, m, data, source, allowed, moved, reply, reply_status, replied):
        """Gather output words; send a data frame when full or quiet, a reply frame when asked."""
        shape = Value.cast(source.payload).shape()
        size = word_bytes(shape.width)
        m.submodules.outgoing = outgoing = memory.Memory(shape=8 * size, depth=self.out_words, init=[],
                                                         attrs=DISTRIBUTED)
        store, fetch = outgoing.write_port(), outgoing.read_port(domain="comb")
        held = Signal(range(self.out_words + 1))  # words waiting
        quiet = Signal(range(self.quiet_cycles + 1))
        sending = Signal()
        extended = Value.cast(source.payload).as_signed() if shape.signed else Value.cast(source.payload)
        m.d.comb += [source.ready.eq(~sending & (held < self.out_words) & allowed),
                     moved.eq(source.valid & source.ready),
                     store.addr.eq(held), store.data.eq(extended), store.en.eq(moved)]
        with m.If(moved):
            m.d.sync += [held.eq(held + 1), quiet.eq(0)]
        with m.Elif(quiet != self.quiet_cycles):
            m.d.sync += quiet.eq(quiet + 1)
        flush = (held == self.out_words) | ((held != 0) & (quiet == self.quiet_cycles))

        is_reply = Signal()
        length = Signal(16)
        crc = Signal(16, init=0xFFFF)
        word_index, place = Signal(range(self.out_words + 1)), Signal(range(size))
        m.d.comb += fetch.addr.eq(word_index)
        byte = Signal(8)
        sent = data.valid & data.ready
        m.d.comb += data.payload.eq(byte)
        with m.If(sent):
            m.d.sync += crc.eq(crc16_update(crc, byte))
        with m.FSM():
            with m.State("idle"):
                m.d.sync += crc.eq(0xFFFF)
                with m.If(reply):
                    m.d.sync += [is_reply.eq(1), length.eq(1)]
                    m.next = "sof"
                with m.Elif(flush):
                    m.d.sync += [is_reply.eq(0), length.eq(held * size), sending.eq(1), word_index.eq(0),
                                 place.eq(0)]
                    m.next = "sof"
            with m.State("sof"):
                m.d.comb += [byte.eq(SOF), data.valid.eq(1)]
                with m.If(data.ready):
                    m.d.sync += crc.eq(0xFFFF)  # the SOF is outside the CRC
                    m.next = "channel"
            for state, value, nxt in (("channel", Mux(is_reply, REPLY_CHANNEL, 0), "length0"),
                                      ("length0", length[:8], "length1"),
                                      ("length1", length[8:], "payload")):
                with m.State(state):
                    m.d.comb += [byte.eq(value), data.valid.eq(1)]
                    with m.If(data.ready):
                        m.next = nxt
            with m.State("payload"):
                m.d.comb += [byte.eq(Mux(is_reply, reply_status, fetch.data.word_select(place, 8))),
                             data.valid.eq(1)]
                with m.If(data.ready):
                    last_byte = is_reply | ((place == size - 1) & (word_index == held - 1))
                    with m.If(place == size - 1):
                        m.d.sync += [place.eq(0), word_index.eq(word_index + 1)]
                    with m.Else():
                        m.d.sync += place.eq(place + 1)
                    with m.If(last_byte):
                        m.next = "crc0"
            with m.State("crc0"):
                m.d.comb += [byte.eq(crc[8:]), data.valid.eq(1)]
                with m.If(data.ready):
                    m.d.sync += crc.eq(crc)  # the CRC bytes are not folded in
                    m.next = "crc1"
            with m.State("crc1"):
                m.d.comb += [byte.eq(crc[:8]), data.valid.eq(1)]
                with m.If(data.ready):
                    m.d.comb += replied.eq(is_reply)
                    with m.If(~is_reply):
                        m.d.sync += [held.eq(0), sending.eq(0)]
                    m.next = "idle"

