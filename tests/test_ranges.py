"""Every value `accelgen list` advertises is either built or refused in one line: a property test over the
whole registry (hypothesis draws each parameter inside its printed range)."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accelgen
from accelgen import registry

RANGE = re.compile(r"\[(-?\d+), (-?\d+)\]")
SMALL = 16  #: elaboration draws cap every integer parameter at max(lo, SMALL), so each build takes seconds


def _values(param, cap=None):
    if param.choices is not None:
        return st.sampled_from(param.choices)
    hi = param.hi if cap is None else min(param.hi, max(param.lo, cap))
    if param.power_of_two:
        return st.sampled_from([1 << e for e in range(param.hi.bit_length()) if param.lo <= 1 << e <= hi])
    return st.integers(param.lo, hi)


def _draw(data, name, cap=None) -> dict:
    return {p.name: data.draw(_values(p, cap), label=p.name) for p in registry.get(name).parameters}


def _refused_cleanly(error: accelgen.UserError):
    message = str(error)
    assert "\n" not in message, message
    for low, high in RANGE.findall(message):
        assert int(low) <= int(high), f"an empty range in {message!r}"


@pytest.mark.parametrize("name", accelgen.designs())
@settings(max_examples=30, deadline=None, derandomize=True)
@given(data=st.data())
def test_every_advertised_value_is_accepted_or_refused_in_one_line(name, data):
    try:
        accelgen.design(name, **_draw(data, name))
    except accelgen.UserError as error:
        _refused_cleanly(error)


@pytest.mark.parametrize("name", accelgen.designs())
@settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_accepted_small_values_generate_verilog_and_a_manifest(name, data):
    try:
        acc = accelgen.design(name, **_draw(data, name, cap=SMALL))
    except accelgen.UserError as error:
        _refused_cleanly(error)
        return
    assert f"module {acc.toplevel}(" in acc.verilog()
    assert acc.outputs() and isinstance(acc.inputs(), dict), "the manifest's arrays and formats exist"


@pytest.mark.parametrize("name, params", [
    ("bnn-mlp", {"width": 8, "frac": 4}), ("bnn-mlp", {"width": 4, "frac": 2}),
    ("pwl", {"width": 6, "frac": 2}), ("circulant-lstm", {"width": 6, "frac": 2}),
])
def test_the_low_ends_of_width_build(name, params):
    """Widths `list` once advertised but crashed on (bnn-mlp below 16) or refused with an empty range (PWL
    designs at 4)."""
    acc = accelgen.design(name, **params)
    assert acc.verilog() and acc.outputs() and acc.inputs()
