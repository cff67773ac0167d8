"""Resource quantities as kubectl prints sums of them (``Quantity.String()``): binary amounts
with the largest exact ``Ki``/``Mi``/``Gi`` suffix, decimal ones with the largest exact
``n``/``u``/``m``/``k``/``M``/``G`` suffix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from kemu.api.quantity import QuantityError, parse_quantity

_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20),
           ("Ki", 2**10))
_DECIMAL = (("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3), ("", 0), ("m", -3),
            ("u", -6), ("n", -9))


@dataclass(frozen=True)
class Amount:
    value: Fraction
    binary: bool = False

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.value + other.value, self.binary if self.value else other.binary)

    def __str__(self) -> str:
        return format_amount(self.value, self.binary)


ZERO = Amount(Fraction(0))


def amount(text: str) -> Amount:
    try:
        value = parse_quantity(text)
    except QuantityError:
        return ZERO
    return Amount(value, text.strip().endswith("i"))


def total(texts: Iterable[str]) -> Amount:
    result = ZERO
    for text in texts:
        result = result + amount(text)
    return result


def format_amount(value: Fraction, binary: bool = False) -> str:
    if value == 0:
        return "0"
    if binary and value.denominator == 1 and value >= 1024:
        for suffix, size in _BINARY:
            if value % size == 0:
                return f"{value // size}{suffix}"
    for suffix, exponent in _DECIMAL:
        scaled = value / (Fraction(10) ** exponent)
        if scaled.denominator == 1:
            return f"{scaled.numerator}{suffix}"
    nano = -(-value * 10**9 // 1)
    return f"{nano}n"


def percent(part: Amount, whole: Amount) -> int:
    if whole.value == 0:
        return 0
    return int(part.value / whole.value * 100)
