"""Post-synthesis placement constraints for ECP5: a PE array's DSP multipliers pinned in a grid.

The LFE5U-85F's 156 MULT18X18D sites lie in three rows across the die
(``DSP_ROWS_Y``), 52 to a row in 13 DSP blocks of four. A systolic array that
needs most of them leaves nextpnr to choose which PE goes to which site, and
its placer does not keep the array's neighbours together: the 16×16 one-MAC
intergrad array (144 multipliers) placed in 37 minutes and did not route;
pinned, it places and routes in 15–18 minutes a seed (docs/intergrad.md).
:func:`pin_dsp_grid` gives each PE's multiplier a site (the cell's ``BEL``
attribute, which nextpnr takes as a placement constraint):
the PE rows split into three bands, one per DSP row, and within a band
column ``c``'s PEs take neighbouring sites, columns left to right, so a PE's
vertical neighbours (the wide partial-sum and drain links) sit next to it and
its horizontal ones (δ) a few sites away. The rest of the design is placed
around those anchors as before.
"""

import re

from models.fixed import ceil_div

__all__ = ["DSP_ROWS_Y", "SITES_PER_ROW", "dsp_sites", "pin_dsp_grid"]

DSP_ROWS_Y = (10, 34, 58)  #: the tile rows of the LFE5U-85F's MULT18X18D sites
_BLOCK_X = (4, 13, 22, 31, 40, 49, 58, 69, 78, 87, 96, 105, 114)  #: each DSP block's first column
_BLOCK_SITES = ((0, "MULT18_0"), (1, "MULT18_1"), (4, "MULT18_4"), (5, "MULT18_5"))  #: (column offset, BEL)
SITES_PER_ROW = len(_BLOCK_X) * len(_BLOCK_SITES)


def dsp_sites(y: int) -> list[str]:
    """The MULT18X18D sites of DSP row ``y`` left to right, as nextpnr names them (its placement of 156
    multipliers on the LFE5U-85F uses exactly these)."""
    return [f"X{x + offset}/Y{y}/{bel}" for x in _BLOCK_X for offset, bel in _BLOCK_SITES]


def pin_dsp_grid(netlist: dict, pattern: str) -> int:
    """Pin every MULT18X18D of ``netlist`` (yosys JSON, edited in place) whose cell name matches ``pattern``
    (a regular expression with integer groups ``row`` and ``col``: the PE's position) to its grid site;
    returns how many were pinned. Rows split into ``len(DSP_ROWS_Y)`` equal bands; in a band of ``b`` rows,
    PE ``(r, c)`` takes site ``offset + b·c + r mod b`` (the grid centred in the row). Raises ``ValueError``
    when two cells claim one PE or a band's PEs outnumber a row's sites."""
    grid = {}
    for module in netlist["modules"].values():
        for name, cell in module.get("cells", {}).items():
            found = re.search(pattern, name) if cell["type"] == "MULT18X18D" else None
            if found:
                position = (int(found["row"]), int(found["col"]))
                if position in grid:
                    raise ValueError(f"two DSP multipliers for PE {position}: {name!r} and another")
                grid[position] = cell
    if not grid:
        return 0
    rows, cols = (max(index) + 1 for index in zip(*grid))
    band = ceil_div(rows, len(DSP_ROWS_Y))
    if band * cols > SITES_PER_ROW:
        raise ValueError(f"{rows} × {cols} PEs need {band * cols} DSP sites a row; a row has {SITES_PER_ROW}")
    offset = (SITES_PER_ROW - band * cols) // 2
    for (row, col), cell in grid.items():
        cell["attributes"]["BEL"] = dsp_sites(DSP_ROWS_Y[row // band])[offset + band * col + row % band]
    return len(grid)
