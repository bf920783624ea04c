"""Bounds on every size and count a request can set, and the one way a config checks its settings.

A request that asks for 10^9 cycles, 10^12 epochs or a network 40 times the paper's width must be refused before
anything is allocated, with a message that names the setting. The convention every engine config follows:

- a setting's value is checked against the type of its default with ``typed`` (an int setting takes a JSON
  integer only: ``"2"``, ``1.5`` and ``true`` are refused, never rounded; a float setting takes any finite number;
  a bool setting takes true or false; a str setting takes a string);
- every int setting has a closed range, every number a range, checked in ``__post_init__`` with ``integer`` and
  ``number`` (ranges from the constants below where they apply: epochs, batch sizes, seeds);
- a problem raises ``ConfigError`` (an ``EngineError``) whose message starts with the config's name and whose
  ``setting`` names the setting, so the registry answers a 400 that names the field (``details.setting``).

The bounds are generous for real work and stop what cannot run; the memory estimate
(``splitter_engine.resources``) then refuses the combinations that are each in bounds but too large together.
"""
from __future__ import annotations

import math

from splitter_engine.runtime import EngineError

MAX_SEED = 2**31 - 1          # seeds: torch and numpy take 0 .. 2^31-1 on every platform
MAX_EPOCHS = 1000             # epochs of one training run, or of one phase of a search
MAX_SEARCH_EPOCHS = 2000      # epochs a decomposition plans in all (GradSplitter: warm-up + cycles x epochs)
MAX_GENERATIONS = 10_000      # generations of a genetic search
MAX_POPULATION = 10_000       # individuals of a genetic search
MAX_BATCH = 4096              # training/search batch size
MAX_EVAL_BATCH = 16_384       # images per forward pass without gradients
MAX_IMAGE_SIDE = 1024         # height or width of a model's or a data set's images (as ReadLimits.max_side)
MAX_CHANNELS = 16             # input channels of a model
MAX_WIDTH = 4.0               # width multiplier of the paper's networks (4 x the paper's channels)
MAX_HIDDEN = 4096             # hidden units of a small head


class ConfigError(EngineError):
    """A setting out of its type or range; ``setting`` names it."""

    def __init__(self, message: str, *, setting: str | None = None):
        super().__init__(message)
        self.setting = setting


def _prefix(what: str) -> str:
    return f"{what}: " if what else ""


def integer(what: str, name: str, value, low: int, high: int) -> int:
    """``value`` when it is an int (not a bool) in [low, high]; else a ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{_prefix(what)}{name} must be an integer, got {value!r}", setting=name)
    if not low <= value <= high:
        raise ConfigError(f"{_prefix(what)}{name} must be between {low:,} and {high:,}, got {value:,}", setting=name)
    return value


def number(what: str, name: str, value, low: float, high: float, *, low_open: bool = False,
           high_open: bool = False) -> float:
    """``value`` when it is a finite number in the range ([ or ( per ``low_open``/``high_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{_prefix(what)}{name} must be a finite number, got {value!r}", setting=name)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"{_prefix(what)}{name} must lie in {interval}, got {value:g}", setting=name)
    return float(value)


def typed(what: str, name: str, default, value):
    """``value`` checked against the type of the setting's ``default`` (JSON types; nothing is converted but
    an int given for a float setting)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{_prefix(what)}{name} must be true or false, got {value!r}", setting=name)
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_prefix(what)}{name} must be an integer, got {value!r}", setting=name)
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{_prefix(what)}{name} must be a finite number, got {value!r}", setting=name)
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"{_prefix(what)}{name} must be a string, got {value!r}", setting=name)
        return value
    return value


def preset_base(what: str, presets: dict, name: str, setting_names, overrides: dict):
    """The config of preset ``name``; an EngineError names an unknown preset or setting (``what``: the method)."""
    if name not in presets:
        raise EngineError(f"unknown {what} preset {name!r}; choose one of {sorted(presets)}")
    known = set(setting_names) - {"preset"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise EngineError(f"unknown {what} setting(s) {unknown}; settings are {sorted(known)}")
    return presets[name]
