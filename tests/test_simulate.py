"""The simulation flow's failure reporting: a stuck stream fails its test, and the reason shown is the exception."""

from types import SimpleNamespace

import pytest

from accelgen.flows import simulate
from sim import drivers


def test_a_stream_end_fails_after_idle_limit_cycles_without_a_transfer():
    dut = SimpleNamespace(clk=None, h_out__payload=None, h_out__valid=None, h_out__ready=None)
    sink = drivers.StreamSink(dut, "h_out")
    for _ in range(drivers.IDLE_LIMIT - 1):
        sink._waited(144, 192)
    with pytest.raises(drivers.StreamTimeoutError, match=r"h_out: no transfer for 1000000 cycles after 144 of 192"):
        sink._waited(144, 192)


def test_failure_reason_is_the_exception_line_not_the_traceback_source(tmp_path):
    log = tmp_path / "sim.log"
    log.write_text("\n".join([
        "  10074370.00ns WARNING  cocotb.regression   sim.tb_rnn.circulant_rnn failed",
        "      raise StreamTimeoutError(f\"{self.name}: no transfer ...\")",
        "  sim.drivers.StreamTimeoutError: h_out: no transfer for 1000000 cycles after 144 of 192 words",
    ]))
    reason = simulate.failure_reason(log)
    assert reason.startswith("sim.drivers.StreamTimeoutError: h_out: no transfer")
    assert simulate.failure_reason(tmp_path / "absent.log").startswith("no test result")
