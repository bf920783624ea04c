"""Energy of a step, where the machine exposes a counter: the CPU package's RAPL counter (Linux powercap).

No counter, no figure: the report then compares CPU seconds and says so. CO2e is energy times a grid intensity
(the world average codecarbon also falls back to, 475 g CO2e per kWh).
"""
from __future__ import annotations

from pathlib import Path

RAPL = Path("/sys/class/powercap")
GRID_G_PER_KWH = 475.0


def _counters() -> list[Path]:
    if not RAPL.is_dir():
        return []
    return sorted(p / "energy_uj" for p in RAPL.glob("intel-rapl:*") if ":" in p.name and p.name.count(":") == 1)


def read_microjoules() -> int | None:
    """The summed package counters, or None where there is none or it cannot be read (root-only on many hosts)."""
    total = 0
    counters = _counters()
    if not counters:
        return None
    try:
        for path in counters:
            total += int(path.read_text())
    except (OSError, ValueError):
        return None
    return total


def joules_between(before: int | None, after: int | None) -> float | None:
    """The energy between two readings; None without a counter or when a counter wrapped around in between."""
    if before is None or after is None or after < before:
        return None
    return round((after - before) / 1e6, 3)


def source() -> str:
    if read_microjoules() is not None:
        return "RAPL package energy counters (/sys/class/powercap)"
    return "none: this machine exposes no readable energy counter, so only CPU and wall seconds are compared"


def grams_co2e(joules: float) -> float:
    return joules / 3.6e6 * GRID_G_PER_KWH
