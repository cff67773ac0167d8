"""Kubernetes resource quantities ("500m", "64Mi", "1.5", "2e3"): parsing and arithmetic.

Values are exact (``fractions.Fraction``); the scheduler compares milli-units for CPU and
whole units (bytes) for everything else, as Kubernetes does.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_PATTERN = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")

_SUFFIX = {
    None: Fraction(1),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}

QUANTITY_FORMAT = "quantities must match the regular expression " \
    "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


class QuantityError(ValueError):
    pass


def parse_quantity(text: str) -> Fraction:
    """The exact value of a quantity string."""
    match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise QuantityError(QUANTITY_FORMAT)
    number, suffix = match.groups()
    value = Fraction(number)
    if suffix and suffix[0] in "eE":
        exponent = int(suffix[1:])
        return value * (Fraction(10) ** exponent)
    return value * _SUFFIX[suffix]


def canonical_quantity(value: int | float | str) -> str:
    """A quantity as a string, accepting the JSON number form; raises QuantityError."""
    if isinstance(value, bool):
        raise QuantityError(QUANTITY_FORMAT)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(QUANTITY_FORMAT)
        if value.is_integer():
            return str(int(value))
        milli = Fraction(value).limit_denominator(10**9) * 1000
        if milli.denominator == 1:
            return f"{milli.numerator}m"
        return repr(value)
    parse_quantity(value)
    return value


def milli_value(text: str) -> int:
    """Thousandths of the quantity, rounded up (CPU in millicores)."""
    return math.ceil(parse_quantity(text) * 1000)


def whole_value(text: str) -> int:
    """The quantity rounded up to a whole number (memory in bytes, pod counts)."""
    return math.ceil(parse_quantity(text))


def format_milli(milli: int) -> str:
    """CPU millicores the way kubectl prints them ("250m", "2")."""
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def format_bytes(amount: int) -> str:
    """Memory the way kubectl prints it: the largest binary suffix that divides exactly."""
    if amount == 0:
        return "0"
    for suffix, size in (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30),
                         ("Mi", 2**20), ("Ki", 2**10)):
        if amount % size == 0:
            return f"{amount // size}{suffix}"
    return str(amount)
