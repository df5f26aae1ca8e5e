"""cocotb testbench of ``circulant-lstm`` and ``circulant-gru`` (``hw/rnn.py``) against ``models/rnn.py``.

Inputs: ``w_raw`` (4H/k × (n_in+H)/k × k), ``b_raw`` (4H), ``x_raw``
(T × n_in). Weight spectra go in with ``circulant-fc``'s order and format.
Outputs: ``h_raw`` (T × H). Counters: ``cycles`` (first ``x`` word to last
``h`` word), ``steps``, ``element_cycles`` (between the first two ``h``
words: the element-wise pass's cycles per element when ``h_out`` is always ready).
"""

import cocotb
import numpy as np

from models.circulant import spectrum_words

from . import harness
from .drivers import StreamSink, StreamSource, span_cycles


async def drive(dut, job, inputs):
    w_raw, b_raw, x_raw = inputs["w_raw"], inputs["b_raw"], inputs["x_raw"]
    steps, hidden = len(x_raw), len(b_raw) // 4
    w_source = StreamSource(dut, "w_in", **job.stream_args(0))
    b_source = StreamSource(dut, "b_in", **job.stream_args(1))
    x_source = StreamSource(dut, "x_in", **job.stream_args(2))
    h_sink = StreamSink(dut, "h_out", **job.stream_args(3))

    await w_source.send(spectrum_words(w_raw, job.params))
    await b_source.send(b_raw)
    x_task = cocotb.start_soon(x_source.send(x_raw.reshape(-1)))
    h = await h_sink.recv(steps * hidden)
    await x_task
    counters = {"cycles": span_cycles(x_source.times[0], h_sink.times[-1], harness.CLOCK_PERIOD_NS),
                "steps": steps,
                "element_cycles": span_cycles(h_sink.times[0], h_sink.times[1], harness.CLOCK_PERIOD_NS) - 1}
    return {"h_raw": np.array(h, dtype=np.int64).reshape(steps, hidden)}, counters


@cocotb.test()
async def circulant_rnn(dut):
    """A whole sequence, state carried across time steps, bit-exact."""
    await harness.run(dut, drive)
