"""Parameter validation: every check raises :class:`ParameterError` *before* any compute,
with a message that names the parameter, the value received and the valid range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

#: torch.compile modes the engine accepts (None: eager); here, so that the command line
#: offers them without importing torch.
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune-no-cudagraphs")


class ParameterError(ValueError):
    """A parameter is outside its valid range; raised before any compute."""


def check_number(
    name: str,
    value: object,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
    integer: bool = False,
) -> float:
    """Check that ``value`` is a finite number in the stated range and return it.

    >>> check_number("alpha", 0.35, low=0)
    0.35
    """
    kind = "an integer" if integer else "a number"
    lo = "[" if low_inclusive and low != -math.inf else "("
    hi = "]" if high_inclusive and high != math.inf else ")"
    lo_text = "-inf" if low == -math.inf else f"{low:g}"
    hi_text = "inf" if high == math.inf else f"{high:g}"
    valid = f"{lo}{lo_text}, {hi_text}{hi}"
    is_bool = isinstance(value, bool)
    if integer:
        ok_type = isinstance(value, int) and not is_bool
    else:
        ok_type = isinstance(value, (int, float)) and not is_bool
    if not ok_type:
        raise ParameterError(f"{name}={value!r} is not {kind}; valid range is {valid}")
    if not integer and not math.isfinite(float(value)):
        raise ParameterError(f"{name}={value!r} is not finite; valid range is {valid}")
    too_low = value < low or (value == low and not low_inclusive)
    too_high = value > high or (value == high and not high_inclusive)
    if too_low or too_high:
        raise ParameterError(f"{name}={value!r} is out of range; valid range is {valid}")
    return value


def check_choice(name: str, value: object, choices: Iterable[object]) -> object:
    """Check that ``value`` is one of ``choices`` and return it."""
    options = list(choices)
    if value not in options:
        listed = ", ".join(repr(c) for c in options)
        raise ParameterError(f"{name}={value!r} is not valid; choose one of {listed}")
    return value


def per_item(value: object, k: int, name: str, noun: str) -> list:
    """``value`` given once for all ``k`` items (broadcast) or as a list or tuple of one
    per item (its length checked); ``noun`` names an item in the error."""
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ParameterError(f"{name}: {len(value)} entries for {k} {noun}s (one per {noun})")
        return list(value)
    return [value] * k
