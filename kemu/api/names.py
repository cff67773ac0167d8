"""Syntax checks for names, label keys and label values, with Kubernetes' messages.

Each function returns a list of problems (empty when the input is valid), so callers can attach
them to whatever field path they are checking.
"""

from __future__ import annotations

import re

_QNAME_CHAR = r"[A-Za-z0-9]"
_QNAME_EXT = r"[-A-Za-z0-9_.]"
_QUALIFIED_NAME = re.compile(rf"^({_QNAME_CHAR}{_QNAME_EXT}*)?{_QNAME_CHAR}$")
_LABEL_VALUE = re.compile(rf"^(({_QNAME_CHAR}{_QNAME_EXT}*)?{_QNAME_CHAR})?$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

QUALIFIED_NAME_MAX = 63
LABEL_VALUE_MAX = 63
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253

_QNAME_FORMAT = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                 "start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                 "'123-abc', regex used for validation is "
                 "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
_LABEL_VALUE_FORMAT = ("a valid label must be an empty string or consist of alphanumeric "
                       "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                       "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                       "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
_DNS1123_LABEL_FORMAT = ("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                         "characters or '-', and must start and end with an alphanumeric character "
                         "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                         "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_DNS1123_SUBDOMAIN_FORMAT = ("a lowercase RFC 1123 subdomain must consist of lower case "
                             "alphanumeric characters, '-' or '.', and must start and end with an "
                             "alphanumeric character (e.g. 'example.com', regex used for "
                             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                             r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def _too_long(limit: int) -> str:
    return f"must be no more than {limit} characters"


def qualified_name_problems(value: str) -> list[str]:
    """A label or annotation key: ``[prefix/]name``, prefix a DNS subdomain."""
    problems: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            problems.append("prefix part " + "must be non-empty")
        else:
            problems.extend("prefix part " + p for p in dns1123_subdomain_problems(prefix))
    else:
        return ["a qualified name " + _QNAME_FORMAT.replace("name part must", "must")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        problems.append("name part " + _too_long(QUALIFIED_NAME_MAX))
    if name and not _QUALIFIED_NAME.match(name):
        problems.append(_QNAME_FORMAT)
    return problems


def label_value_problems(value: str) -> list[str]:
    problems: list[str] = []
    if len(value) > LABEL_VALUE_MAX:
        problems.append(_too_long(LABEL_VALUE_MAX))
    if not _LABEL_VALUE.match(value):
        problems.append(_LABEL_VALUE_FORMAT)
    return problems


def dns1123_label_problems(value: str) -> list[str]:
    problems: list[str] = []
    if len(value) > DNS1123_LABEL_MAX:
        problems.append(_too_long(DNS1123_LABEL_MAX))
    if not _DNS1123_LABEL.match(value):
        problems.append(_DNS1123_LABEL_FORMAT)
    return problems


def dns1123_subdomain_problems(value: str) -> list[str]:
    problems: list[str] = []
    if len(value) > DNS1123_SUBDOMAIN_MAX:
        problems.append(_too_long(DNS1123_SUBDOMAIN_MAX))
    if not _DNS1123_SUBDOMAIN.match(value):
        problems.append(_DNS1123_SUBDOMAIN_FORMAT)
    return problems
