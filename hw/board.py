"""A design on a real ECP5 board: the board's oscillator through a PLL, reset from the PLL's lock, the
host link on the board's UART and status LEDs (docs/board.md)."""

from dataclasses import dataclass

from amaranth.hdl import ClockDomain, Instance, Module, Signal
from amaranth.build import ResourceError
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer

from .link import HostLink

__all__ = ["PLLConfig", "pll_config", "BoardTop"]

VCO_MHZ = (400.0, 800.0)  # ECP5 EHXPLLL limits (Lattice TN1263)
PFD_MHZ = (3.125, 400.0)
CLKI_DIVS, CLKFB_DIVS, CLKOP_DIVS = range(1, 129), range(1, 81), range(1, 129)


@dataclass(frozen=True)
class PLLConfig:
    """One EHXPLLL setting: ``f_out = f_in · clkfb_div / clki_div``, VCO ``f_out · clkop_div``."""

    f_in_mhz: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def f_out_mhz(self) -> float:
        return self.f_in_mhz * self.clkfb_div / self.clki_div

    @property
    def vco_mhz(self) -> float:
        return self.f_out_mhz * self.clkop_div


def pll_config(f_in_mhz: float, f_max_mhz: float) -> PLLConfig | None:
    """The fastest PLL output not above ``f_max_mhz`` (ties: the lowest dividers), or ``None``."""
    best = None
    for clki_div in CLKI_DIVS:
        pfd = f_in_mhz / clki_div
        if not PFD_MHZ[0] <= pfd <= PFD_MHZ[1]:
            continue
        for clkfb_div in CLKFB_DIVS:
            f_out = pfd * clkfb_div
            if f_out > f_max_mhz:
                break
            clkop_div = next((d for d in CLKOP_DIVS if VCO_MHZ[0] <= f_out * d <= VCO_MHZ[1]), None)
            if clkop_div is not None and (best is None or f_out > best.f_out_mhz + 1e-9):
                best = PLLConfig(f_in_mhz, clki_div, clkfb_div, clkop_div)
    return best


class BoardTop(wiring.Component):
    """The whole FPGA for one board: ``design`` behind :class:`~hw.link.HostLink` at ``pll``'s clock.

    LEDs (as many as the board has, in this order): the link's frame toggle, its error flag, the PLL's
    lock, a heartbeat (about 1 Hz).

    Parameters
    ----------
    design : wiring.Component
    pll : PLLConfig
    baud : int
        The UART's bits per second; the link divides the PLL clock by ``round(f_out / baud)``.
    clock : str
        The board's oscillator resource.

    Members
    -------
    None: the top level talks to the board's pins (``platform.request``).

    Latency
    -------
    The design's, plus :class:`~hw.link.HostLink`'s; the design starts when the PLL locks (reset held
    until then, released synchronously).

    Throughput
    ----------
    :class:`~hw.link.HostLink`'s (docs/board.md).
    """

    def __init__(self, design, *, pll: PLLConfig, baud: int, clock: str):
        self.design, self.pll, self.baud, self.clock = design, pll, baud, clock
        super().__init__({})

    @property
    def divisor(self) -> int:
        return round(self.pll.f_out_mhz * 1e6 / self.baud)

    def elaborate(self, platform):
        m = Module()
        m.submodules.oscillator = oscillator = io.Buffer("i", platform.request(self.clock, 0, dir="-"))
        locked = Signal()
        m.domains.sync = sync = ClockDomain("sync")
        m.submodules.pll = self._pll(oscillator.i, sync.clk, locked)
        m.submodules.reset = ResetSynchronizer(~locked, domain="sync")  # nextpnr takes the clock from the PLL

        m.submodules.link = link = HostLink(self.design, divisor=self.divisor)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx, m.submodules.uart_tx = rx, tx = io.Buffer("i", uart.rx), io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]
        heartbeat = Signal(range(int(self.pll.f_out_mhz * 1e6 / 2) + 1))
        beat = Signal()
        m.d.sync += heartbeat.eq(heartbeat + 1)
        with m.If(heartbeat == int(self.pll.f_out_mhz * 1e6 / 2)):
            m.d.sync += [heartbeat.eq(0), beat.eq(~beat)]
        for number, level in enumerate([link.frames, link.error, locked, beat]):
            pin = _led(platform, number)
            if pin is not None:
                m.submodules[f"led{number}"] = led = io.Buffer("o", pin)
                m.d.comb += led.o.eq(level)
        return m

    def _pll(self, clock_in, clock_out, locked):
        pll = self.pll
        return Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{pll.f_in_mhz:g}", a_FREQUENCY_PIN_CLKOP=f"{pll.f_out_mhz:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=pll.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=pll.clkop_div,
            p_CLKOP_CPHASE=pll.clkop_div - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=pll.clkfb_div,
            i_RST=0, i_STDBY=0, i_CLKI=clock_in, o_CLKOP=clock_out, i_CLKFB=clock_out,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0,
            i_ENCLKOP=0, o_LOCK=locked)


def _led(platform, number):
    """LED ``number``'s pin, a plain LED or the red of an RGB one; ``None`` when the board has no more."""
    try:
        return platform.request("led", number, dir="-")
    except ResourceError:
        pass
    try:
        return platform.request("rgb_led", number, dir="-").r
    except ResourceError:
        return None
