"""cocotb testbench of ``net`` (``hw/net.py``) against ``models/net.py``.

Inputs: ``x_raw`` (batch × n_in, or images batch × c × h × w, sent ``NHWC``). Outputs: ``y_raw``
(batch × n_out, or images).
Counters: ``cycles`` (first ``x`` word accepted to last ``y`` word sent, all
vectors back to back), ``vectors``, and ``interval``: cycles between the last
words of consecutive outputs in steady state — the median over the second
half of the batch (the first vectors fill the pipeline), or the whole span
for a batch of one.
"""

import cocotb
import numpy as np

from models.net import nchw, stream_order

from . import harness
from .drivers import StreamSink, StreamSource, span_cycles


def steady_interval(last_word_ns: list[int], period_ns: int) -> int:
    """Median cycles between the ends of consecutive outputs over the second half of the batch."""
    gaps = np.diff(np.asarray(last_word_ns[len(last_word_ns) // 2 - 1:], dtype=np.int64)) // period_ns
    return int(np.median(gaps)) if len(gaps) else 0


async def drive(dut, job, inputs):
    x_raw, shape = inputs["x_raw"], job.outputs["y"][1:]
    batch, n_out = len(x_raw), int(np.prod(shape))
    feeder = StreamSource(dut, "x_in", **job.stream_args(0))
    taker = StreamSink(dut, "y_out", **job.stream_args(1))
    feed = cocotb.start_soon(feeder.send(stream_order(x_raw).reshape(-1)))
    y = np.array(await taker.recv(batch * n_out), dtype=np.int64)
    y = nchw(y, shape) if len(shape) == 3 else y.reshape(batch, n_out)
    await feed
    ends = taker.times[n_out - 1::n_out]
    counters = {"cycles": span_cycles(feeder.times[0], taker.times[-1], harness.CLOCK_PERIOD_NS), "vectors": batch,
                "interval": steady_interval(ends, harness.CLOCK_PERIOD_NS) if batch > 1 else
                span_cycles(feeder.times[0], taker.times[-1], harness.CLOCK_PERIOD_NS)}
    return {"y_raw": y}, counters


@cocotb.test()
async def net(dut):
    """A batch of vectors through the whole network; outputs bit-exact with the model."""
    await harness.run(dut, drive)
