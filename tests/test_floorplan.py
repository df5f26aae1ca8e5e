"""DSP grid floorplans (accelgen/flows/ecp5_floorplan.py): sites, the pinning rule, nextpnr honouring it."""

import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

import accelgen
from accelgen.cli import main
from accelgen.flows import export, synthesize
from accelgen.flows.ecp5_floorplan import DSP_ROWS_Y, SITES_PER_ROW, dsp_sites, pin_dsp_grid
from hw.common.dsp import registered_product

GRID = r"(?:^|\.)mac_(?P<row>\d+)_(?P<col>\d+)\$"  # a top-level instance has no "." before it


def _multipliers(rows: int, cols: int) -> dict:
    """A yosys-JSON module of ``rows × cols`` MULT18X18D named as yosys names flattened PE instances."""
    cells = {f"array.mac_{r}_{c}$1{r}{c}.multiplier": {"type": "MULT18X18D", "attributes": {}}
             for r in range(rows) for c in range(cols)}
    cells["array.acc_0_0"] = {"type": "TRELLIS_FF", "attributes": {}}
    return {"modules": {"top": {"cells": cells}}}


def test_each_dsp_row_has_52_distinct_sites_in_13_blocks():
    sites = [site for y in DSP_ROWS_Y for site in dsp_sites(y)]
    assert len(sites) == len(set(sites)) == 3 * SITES_PER_ROW == 156


def test_pe_rows_fill_the_three_dsp_rows_in_bands_and_columns_run_left_to_right():
    """The 16-column array's 9 DSP rows of PEs: three PE rows a DSP row, a column's three PEs side by side,
    the grid centred (48 of 52 sites)."""
    netlist = _multipliers(9, 16)
    assert pin_dsp_grid(netlist, GRID) == 144
    cells = netlist["modules"]["top"]["cells"]
    site = {name.split("$")[0]: cell["attributes"].get("BEL") for name, cell in cells.items()}
    assert site["array.mac_0_0"] == "X8/Y10/MULT18_4"  # site 2 of row Y10
    assert site["array.mac_1_0"] == "X9/Y10/MULT18_5" and site["array.mac_2_0"] == "X13/Y10/MULT18_0"
    assert site["array.mac_3_0"] == "X8/Y34/MULT18_4" and site["array.mac_8_15"] == "X115/Y58/MULT18_1"
    assert len({bel for bel in site.values() if bel}) == 144 and site["array.acc_0_0"] is None


def test_a_grid_that_cannot_be_pinned_is_refused():
    with pytest.raises(ValueError, match="a row has 52"):
        pin_dsp_grid(_multipliers(3, 53), GRID)
    twice = _multipliers(1, 1)
    twice["modules"]["top"]["cells"]["array.ws_mac_0_0$7.multiplier"] = {"type": "MULT18X18D", "attributes": {}}
    with pytest.raises(ValueError, match=r"two DSP multipliers for PE \(0, 0\)"):
        pin_dsp_grid(twice, r"\.(?:ws_)?mac_(?P<row>\d+)_(?P<col>\d+)\$")
    assert pin_dsp_grid(_multipliers(2, 2), r"\.nothing_(?P<row>\d+)_(?P<col>\d+)") == 0


class TwoPEs(wiring.Component):
    """Two registered products named like an intergrad column's: PE(0, 0) and PE(1, 0)."""

    a: In(signed(8))
    b: In(signed(8))
    p: Out(signed(17))

    def elaborate(self, platform):
        m = Module()
        top = registered_product(m, self.a, self.b, "mac_0_0")
        below = registered_product(m, self.b, self.a, "mac_1_0")
        m.d.sync += self.p.eq(top + below)
        return m


def test_nextpnr_places_the_pinned_multipliers_where_the_grid_says(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELGEN_CACHE", str(tmp_path))
    verilog = export.component_verilog(TwoPEs(), "two_pes")
    result = synthesize.synthesize(verilog, "two_pes", route=False, dsp_grid=GRID)
    assert result["dsp"] == 2
    workdir = synthesize._workdir(verilog, "two_pes", "ecp5", synthesize.PlaceRoute(route=False, dsp_grid=GRID))
    assert "Placed 2 cells based on constraints" in synthesize._nextpnr_log(workdir, 1).read_text()
    assert synthesize.synthesize(verilog, "two_pes", route=False, cached_only=True) is None, "cached apart"


def test_floorplan_is_refused_where_the_design_has_no_grid(capsys):
    assert main(["synth", "dense-fc", "--floorplan"]) == 2
    assert "no DSP grid floorplan" in capsys.readouterr().err
    assert accelgen.design("intergrad", pe="one-mac", pipeline=1).dsp_grid
    assert not accelgen.design("intergrad", pe="two-mac", pipeline=1).dsp_grid
    assert not accelgen.design("intergrad", pe="one-mac", pipeline=0).dsp_grid
