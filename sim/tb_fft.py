"""cocotb testbench of the FFT unit (``hw/fft.py``) against ``models/fft.py``.

``fft_forward`` (the job's test): ``x_raw`` (batch × k) real, scaled mode,
outputs ``X_re_raw``/``X_im_raw`` (batch × (k/2+1)) = FFT(x)/k.
``fft_inverse`` (only when the job checks): random half spectra of
``width + 2`` bits through the unscaled inverse, real parts == ``irfft_raw``.
Counters: ``cycles`` from the first load word to the last result word.
"""

import cocotb
import numpy as np

from models.fft import hermitian_input, inverse_width, irfft_raw
from models.fixed import pack, unpack

from . import harness


async def transform(dut, job, re, im, *, scaled: bool):
    """Push ``batch × k`` complex raw rows through the unit; return all k bins of each row and the cycles."""
    batch, k = re.shape
    unit_width = len(dut.load__payload) // 2
    dut.scaled.value = int(scaled)
    words, cycles = await harness.stream_through(dut, job, "load", "result",
                                                 pack([re.reshape(-1), im.reshape(-1)], unit_width), batch * k,
                                                 sink_signed=False)
    out_re, out_im = unpack(words, unit_width, 2)
    return out_re.reshape(batch, k), out_im.reshape(batch, k), cycles


async def drive(dut, job, inputs):
    x = inputs["x_raw"]
    k = x.shape[1]
    out_re, out_im, cycles = await transform(dut, job, x, np.zeros_like(x), scaled=True)
    bins = k // 2 + 1
    return ({"X_re_raw": out_re[:, :bins], "X_im_raw": out_im[:, :bins]},
            {"cycles": cycles, "transforms": len(x)})


@cocotb.test()
async def fft_forward(dut):
    """Real input, scaled: bins 0..k/2 of FFT(x)/k, bit-exact."""
    await harness.run(dut, drive)


@cocotb.test()
async def fft_inverse(dut):
    """Hermitian half spectra, unscaled: real parts of the IDFT, bit-exact."""
    job = harness.load_job()
    if not job.check:
        return
    width, k = job.params["width"], job.params["k"]
    rng = np.random.default_rng(job.seed)
    limit = 1 << (width + 1)  # inputs of width + 2 bits, as the circulant MAC delivers them
    z_re, z_im = rng.integers(-limit, limit, (4, k // 2 + 1)), rng.integers(-limit, limit, (4, k // 2 + 1))
    z_re[0], z_im[0] = limit - 1, -limit  # one full-scale row
    z_im[:, 0] = z_im[:, -1] = 0  # a real signal's DC and Nyquist bins are real
    await harness.reset(dut)
    v_re, v_im = hermitian_input(z_re, z_im, k)
    assert len(dut.load__payload) == 2 * inverse_width(width, k)
    out_re, _, _ = await transform(dut, job, v_re, v_im, scaled=False)
    harness.scoreboard({"y_raw": out_re}, {"y_raw": irfft_raw(z_re, z_im, width, k)})
