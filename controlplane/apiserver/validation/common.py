"""Small checks every kind's validation shares, with apimachinery's messages.

Each ``*_problems`` function returns the messages for a bad value (empty when it is fine), so
callers attach them to whatever field path they are checking; the other helpers return
FieldErrors directly.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from fractions import Fraction
from functools import lru_cache
from typing import Any

from kemu.api import codec, errors
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_label_problems, qualified_name_problems
from kemu.api.quantity import QuantityError, parse_quantity

INT32_MAX = 2**31 - 1
NEGATIVE = "must be greater than or equal to 0"
IMMUTABLE = "field is immutable"

_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PORT_NAME_CHARSET = re.compile(r"^[-a-z0-9]+$")
_ONE_LETTER = re.compile(r"[a-z]")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_PERCENT = re.compile(r"^[0-9]+%$")
_HTTP_HEADER = re.compile(r"^[-A-Za-z0-9]+$")


def regex_error(message: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError: the rule, examples and the regular expression."""
    shown = ",  or ".join(f"'{e}'" for e in examples)
    return f"{message} (e.g. {shown}, regex used for validation is '{fmt}')"


def inclusive_range(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def max_len(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1035_label_problems(value: str) -> list[str]:
    problems: list[str] = []
    if len(value) > 63:
        problems.append(max_len(63))
    if not _DNS1035_LABEL.match(value):
        problems.append(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
            "with an alphabetic character, and end with an alphanumeric character",
            "[a-z]([-a-z0-9]*[a-z0-9])?", "my-name", "abc-123"))
    return problems


def port_number_problems(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range(1, 65535)]


def port_name_problems(name: str) -> list[str]:
    """IsValidPortName: an IANA_SVC_NAME."""
    problems: list[str] = []
    if len(name) > 15:
        problems.append(max_len(15))
    if not _PORT_NAME_CHARSET.match(name):
        problems.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _ONE_LETTER.search(name):
        problems.append("must contain at least one letter (a-z)")
    if "--" in name:
        problems.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        problems.append("must not begin or end with a hyphen")
    return problems


def _chdir_prefix_problems(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def config_key_problems(key: str) -> list[str]:
    """IsConfigMapKey: ConfigMap data keys, key selectors, volume item keys."""
    problems: list[str] = []
    if len(key) > 253:
        problems.append(max_len(253))
    if not _CONFIG_KEY.match(key):
        problems.append(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+", "key.name", "KEY_NAME", "key-name"))
    problems.extend(_chdir_prefix_problems(key))
    return problems


def env_var_name_problems(name: str) -> list[str]:
    """IsRelaxedEnvVarName: the rule since RelaxedEnvironmentVariableValidation went GA."""
    if all(32 <= ord(ch) <= 126 and ch != "=" for ch in name):
        return []
    return ["a valid environment variable name must consist only of printable ASCII "
            "characters other than '='"]


def percent_problems(value: str) -> list[str]:
    if _PERCENT.match(value):
        return []
    return [regex_error("a valid percent string must be a numeric string followed by an "
                        "ending '%'", "[0-9]+%", "1%", "93%")]


def http_header_problems(name: str) -> list[str]:
    if _HTTP_HEADER.match(name):
        return []
    return [regex_error("a valid HTTP header must consist of alphanumeric characters or '-'",
                        "[-A-Za-z0-9]+", "X-Header-Name")]


def ip_problems(value: str) -> list[str]:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []


def cidr_problems(value: str) -> list[str]:
    try:
        ipaddress.ip_network(value, strict=False)
        if "/" not in value:
            raise ValueError(value)
    except ValueError:
        return ["must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]
    return []


# -- FieldError helpers ---------------------------------------------------------------------

def invalid_each(path: str, value: Any, problems: Iterable[str]) -> list[FieldError]:
    return [errors.invalid(path, value, p) for p in problems]


def nonnegative(path: str, value: int) -> list[FieldError]:
    return [] if value >= 0 else [errors.invalid(path, value, NEGATIVE)]


def dns_label(path: str, value: str) -> list[FieldError]:
    return invalid_each(path, value, dns1123_label_problems(value))


def qualified_name(path: str, value: str) -> list[FieldError]:
    return invalid_each(path, value, qualified_name_problems(value))


def supported(path: str, value: str, allowed: tuple[str, ...],
              required: bool = True) -> list[FieldError]:
    """Required when empty (if ``required``), Unsupported when not one of ``allowed``."""
    if not value:
        return [errors.required(path)] if required else []
    if value in allowed:
        return []
    return [errors.unsupported(path, value, allowed)]


def immutable(path: str, new: Any, old: Any, shown: Any = None) -> list[FieldError]:
    if new == old:
        return []
    return [errors.invalid(path, shown if shown is not None else new, IMMUTABLE)]


def message_json(message: Any) -> Any:
    """A message as the JSON Kubernetes prints for an invalid structured value."""
    return codec.encode(message)


@lru_cache(maxsize=4096)
def parsed_quantity(text: str) -> Fraction | str:
    """The value of a quantity string, or the parse error (the same few strings recur)."""
    try:
        return parse_quantity(text)
    except QuantityError as exc:
        return str(exc)


def quantity(path: str, text: str) -> tuple[Fraction | None, list[FieldError]]:
    """Parse a Quantity's string; a bad one, or a negative one, is an error at ``path``."""
    value = parsed_quantity(text)
    if isinstance(value, str):
        return None, [errors.invalid(path, text, value)]
    if value < 0:
        return value, [errors.invalid(path, text, NEGATIVE)]
    return value, []
