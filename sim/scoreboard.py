"""Bit-exact comparison of the RTL's output arrays with the golden model's (no cocotb: used on both sides)."""

import numpy as np

__all__ = ["first_mismatch"]


def first_mismatch(actual: dict, expected: dict) -> str | None:
    """``None`` when every array of ``expected`` is in ``actual`` with equal shape and values;
    otherwise one line naming the array and its first differing word."""
    for name, want in expected.items():
        if name not in actual:
            return f"output {name!r} missing from the RTL results"
        got, want = np.asarray(actual[name]), np.asarray(want)
        if got.shape != want.shape:
            return f"{name}: shape {got.shape} from RTL, model expects {want.shape}"
        bad = np.argwhere(got != want)
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            return (f"{name}: {len(bad)} of {want.size} words differ; first at {index}: "
                    f"RTL {got[index]} != model {want[index]}")
    return None
