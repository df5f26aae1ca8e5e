"""Design parameters: schema, parsing and validation, in one place.

Each design declares a tuple of :class:`Param`; :func:`parse_values` turns the
user's ``KEY=VALUE`` strings (or a TOML table, or Python keywords) into a
complete dict of range-checked values, raising :class:`UserError` with a one-line message that
names the bad key or value and the allowed range.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

__all__ = ["Param", "parse_values", "parse_assignments", "sizes_of"]


def sizes_of(text: str) -> list[int]:
    """A ``sizes`` parameter's canonical ``64-16-10`` as ``[64, 16, 10]``."""
    return [int(part) for part in text.split("-")]


@dataclass(frozen=True)
class Param:
    """One integer, choice, file or layer-sizes parameter.

    ``lo``/``hi`` bound integers (inclusive); ``power_of_two`` further
    restricts them; ``choices`` makes a string parameter; ``path`` makes a
    file parameter: an existing file, or one of ``choices`` (built-ins the
    design resolves itself); ``sizes`` makes a list of at least two integers,
    each in ``[lo, hi]``, written ``784-200-200-10`` (``,`` ``:`` or ``x`` also
    separate; ``sweep`` splits its axes at commas) and kept in that
    canonical ``-`` form (:func:`sizes_of` reads it back).
    """

    name: str
    default: int | str
    help: str
    lo: int | None = None
    hi: int | None = None
    power_of_two: bool = False
    choices: tuple[str, ...] | None = None
    path: bool = False
    sizes: bool = False

    def allowed(self) -> str:
        """The allowed range as ``accelgen list`` prints it."""
        if self.sizes:
            return f"sizes in [{self.lo}, {self.hi}]"
        if self.path:
            return "a file" + (" or {" + ", ".join(self.choices) + "}" if self.choices else "")
        if self.choices is not None:
            return "{" + ", ".join(self.choices) + "}"
        span = f"[{self.lo}, {self.hi}]"
        return f"powers of two in {span}" if self.power_of_two else span

    def parse(self, value) -> int | str:
        """Convert ``value`` (a string from the command line or a TOML value) and check it."""
        if self.path:
            return self._parse_path(value)
        if self.sizes:
            return self._parse_sizes(value)
        if self.choices is not None:
            text = str(value)
            if text not in self.choices:
                raise UserError(f"{self.name}={text} not allowed; allowed: {self.allowed()}")
            return text
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise UserError(f"{self.name}={value!r} is not an integer; allowed: {self.allowed()}")
        try:
            number = int(value, 0) if isinstance(value, str) else value
        except ValueError:
            raise UserError(f"{self.name}={value} is not an integer; allowed: {self.allowed()}") from None
        in_range = self.lo <= number <= self.hi
        if not in_range or (self.power_of_two and number & (number - 1)):
            raise UserError(f"{self.name}={number} out of range; allowed: {self.allowed()}")
        return number

    def _parse_sizes(self, value) -> str:
        text = str(value).strip()
        parts = [part for part in re.split(r"[-,:x]", text)]
        if len(parts) < 2 or not all(part.strip().isdigit() for part in parts):
            raise UserError(f"{self.name}={text} is not a list of sizes; allowed: {self.allowed()}")
        for part in parts:
            if not self.lo <= int(part) <= self.hi:
                raise UserError(f"{self.name}={text}: size {int(part)} out of range; allowed: {self.allowed()}")
        return "-".join(str(int(part)) for part in parts)

    def _parse_path(self, value) -> str:
        text = str(value)
        if text in (self.choices or ()):
            return text
        if not Path(text).is_file():
            raise UserError(f"{self.name}={text}: no such file; allowed: {self.allowed()}")
        return text


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["n_in=64", "k=8"]`` to ``{"n_in": "64", "k": "8"}``; a later key wins."""
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"-p {pair!r} is not KEY=VALUE")
        values[key.strip()] = value.strip()
    return values


def parse_values(design: str, schema: tuple[Param, ...], given: dict) -> dict:
    """Defaults of ``schema`` overlaid with ``given`` (strings or values), each parsed and range-checked.

    Cross-parameter checks belong to the design (``Design.__init__``); this
    only knows one parameter at a time.
    """
    by_name = {param.name: param for param in schema}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise UserError(f"unknown parameter {unknown[0]!r} for {design}; allowed: {', '.join(by_name)}")
    values = {name: param.default for name, param in by_name.items()}
    for name, value in given.items():
        values[name] = by_name[name].parse(value)
    return values
