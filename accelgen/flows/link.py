"""The board link from a design's side: its stream plans, and ``run --board`` over pyserial. The protocol's
host half is ``sim/host_link.py`` (the cocotb link test drives the same session); the device's is
``hw/link.py``; docs/board.md describes both."""

import numpy as np

from sim.host_link import HostSession, LinkError, LinkSpec, StreamPlan

from ..errors import UserError

__all__ = ["BAUD", "LinkError", "run_on_port", "weights_then_vectors", "stream_through"]

BAUD = 1_000_000  # the link's default bits per second


def run_on_port(design, raw: dict, port: str, *, baud: int = BAUD, timeout_s: float = 10.0) -> tuple[dict, dict]:
    """``raw`` through the board on serial ``port`` (a device or a pyserial URL): ``(raw outputs, report)``."""
    import time

    import serial

    try:
        plan = design.stream_plan(raw)
    except NotImplementedError as error:
        raise UserError(str(error)) from None
    session = HostSession(LinkSpec.of(design.component()), plan)
    try:  # a device path, or a pyserial URL (socket://host:port reaches a board behind a network bridge)
        line = serial.serial_for_url(port, baud, timeout=0.05, exclusive=True)
    except (serial.SerialException, ValueError) as error:
        raise UserError(f"cannot open serial port {port}: {error}") from None
    started = time.monotonic()
    with line:
        quiet_since = time.monotonic()
        while not session.done:
            data = session.next_frame()
            try:
                if data is not None:
                    line.write(data)
                received = line.read(4096)
            except serial.SerialException as error:
                raise LinkError(f"{port}: {error} (frame {session.position} of {len(session.frames)})") from None
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


def weights_then_vectors(w_words, x_raw, n_out: int, *, output: str = "y_raw") -> StreamPlan:
    """The matrix-vector engines' plan: ``w_words`` into ``w_in``, the rows of ``x_raw`` into ``x_in``;
    ``n_out`` words per row back as ``output`` (batch × n_out)."""
    batch = len(x_raw)
    return stream_through([("w_in", w_words), ("x_in", x_raw)], batch * n_out,
                          lambda words: {output: words.reshape(batch, n_out)})


def stream_through(sends: list, receive: int, unpack) -> StreamPlan:
    """A plan from its parts: ``sends`` ``(stream, words)`` in order (words flattened, C order)."""
    return StreamPlan(sends=[(name, np.asarray(words).reshape(-1)) for name, words in sends], receive=receive,
                      unpack=unpack)

