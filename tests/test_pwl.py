"""PWL sigmoid/tanh: C-LSTM's error bounds, fixed point vs float, RTL exhaustively vs model."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from amaranth.hdl import unsigned

from hw.pwl import thermometer_count
from models.fixed import FixedFormat, dequantize
from models.pwl import SIGMOID, TANH, pwl_float, pwl_raw

from .conftest import rtl_run
from .test_fixed import evaluate


@pytest.mark.parametrize("spec, bound", [(SIGMOID, 0.0041), (TANH, 0.0151)], ids=["sigmoid", "tanh"])
def test_float_pwl_meets_clstm_error_bound(spec, bound):
    x = np.linspace(-12, 12, 1_200_001)
    error = np.abs(pwl_float(spec, x) - spec.exact(x))
    assert error.max() <= bound
    assert error.max() > bound - 0.0005, "the bound is tight: the test would see a worse approximation"


@given(st.sampled_from([SIGMOID, TANH]), st.integers(8, 20), st.data())
def test_fixed_point_pwl_tracks_float_pwl(spec, width, data):
    """Within 1.5 LSB of the float PWL: 0.5 from the output grid, ≤ 1 from quantized breakpoints and slopes."""
    fmt = FixedFormat(width, data.draw(st.integers(4, width - 4)))
    x_raw = np.array(data.draw(st.lists(st.integers(fmt.min_raw, fmt.max_raw), min_size=1, max_size=50)))
    y = dequantize(pwl_raw(spec, x_raw, fmt), fmt)
    reference = np.clip(pwl_float(spec, dequantize(x_raw, fmt)), fmt.min_value, fmt.max_value)
    assert np.abs(y - reference).max() <= 1.5 * fmt.lsb + spec.step * fmt.lsb


def test_fixed_point_pwl_is_monotonic_for_the_default_format():
    fmt = FixedFormat(16, 10)
    codes = np.arange(fmt.min_raw, fmt.max_raw + 1)
    for spec in (SIGMOID, TANH):
        assert np.all(np.diff(pwl_raw(spec, codes, fmt)) >= 0)


@pytest.mark.parametrize("function", ["sigmoid", "tanh"])
def test_pwl_rtl_equals_model_on_every_input_code(function, tmp_path):
    rtl_run("pwl", {"function": function}, tmp_path, stall=0.25)


@pytest.mark.parametrize("ones", [1, 2, 3, 7, 8, 21, 32])
def test_thermometer_count_is_the_number_of_leading_ones(ones):
    """Every thermometer code of ``ones`` bits (c ones from bit 0 up): the adder-free count is c."""
    codes = [(1 << count) - 1 for count in range(ones + 1)]
    counts = evaluate(thermometer_count, unsigned(ones), ones.bit_length() + 1, codes)
    assert counts == list(range(ones + 1))
