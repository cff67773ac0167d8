"""The kubelet's settings (data only; ``kubelet.server.Kubelet`` runs them), and the parsers
for the ``k=v,...`` flag syntaxes with errors that name the part that is wrong.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field

from kemu.api.names import dns1123_subdomain_problems, label_value_problems, qualified_name_problems
from kemu.api.quantity import QuantityError, parse_quantity
from kemu.timing import DEFAULT, Timing
from kemu.v1 import core_pb2

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
DEFAULT_CAPACITY = {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"}
STANDARD_RESOURCES = ("cpu", "memory", "pods", "ephemeral-storage")


class ConfigError(ValueError):
    """A setting is malformed; the message names the setting and the bad part."""


def default_node_name() -> str:
    """The host name, lower-cased (in docker compose: the container's hostname)."""
    return socket.gethostname().lower()


def _pairs(text: str, what: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"{what}: {item!r} is not key=value")
        pairs.append((key.strip(), value.strip()))
    return pairs


def parse_labels(text: str) -> dict[str, str]:
    """``k=v,k2=v2`` -> labels; keys and values checked as Kubernetes checks them."""
    labels: dict[str, str] = {}
    for key, value in _pairs(text, "labels"):
        problems = qualified_name_problems(key)
        if problems:
            raise ConfigError(f"labels: key {key!r}: {'; '.join(problems)}")
        problems = label_value_problems(value)
        if problems:
            raise ConfigError(f"labels: value {value!r} of {key!r}: {'; '.join(problems)}")
        labels[key] = value
    return labels


def parse_taint(text: str) -> core_pb2.Taint:
    """``key[=value]:Effect`` (kubectl taint syntax) -> Taint."""
    body, sep, effect = text.rpartition(":")
    if not sep:
        raise ConfigError(f"taints: {text!r} has no effect; expected key[=value]:Effect "
                          f"with Effect one of {', '.join(TAINT_EFFECTS)}")
    if effect not in TAINT_EFFECTS:
        raise ConfigError(f"taints: {text!r}: effect {effect!r} is not one of "
                          f"{', '.join(TAINT_EFFECTS)}")
    key, _, value = body.partition("=")
    if not key:
        raise ConfigError(f"taints: {text!r}: the key is empty")
    problems = qualified_name_problems(key)
    if problems:
        raise ConfigError(f"taints: {text!r}: key {key!r}: {'; '.join(problems)}")
    problems = label_value_problems(value)
    if problems:
        raise ConfigError(f"taints: {text!r}: value {value!r}: {'; '.join(problems)}")
    return core_pb2.Taint(key=key, value=value, effect=effect)


def parse_taints(text: str) -> list[core_pb2.Taint]:
    taints = [parse_taint(item.strip()) for item in text.split(",") if item.strip()]
    seen: set[tuple[str, str]] = set()
    for taint in taints:
        if (taint.key, taint.effect) in seen:
            raise ConfigError(f"taints: {taint.key}:{taint.effect} is given twice")
        seen.add((taint.key, taint.effect))
    return taints


def parse_capacity(text: str) -> dict[str, str]:
    """``cpu=4,memory=8Gi`` over the defaults; names are resources, values quantities."""
    capacity = dict(DEFAULT_CAPACITY)
    for name, value in _pairs(text, "capacity"):
        if name not in STANDARD_RESOURCES and "/" not in name:
            raise ConfigError(f"capacity: unknown resource {name!r}; use one of "
                              f"{', '.join(STANDARD_RESOURCES)} or an extended resource "
                              f"such as example.com/gpu")
        if "/" in name and qualified_name_problems(name):
            raise ConfigError(f"capacity: resource name {name!r}: "
                              f"{'; '.join(qualified_name_problems(name))}")
        try:
            amount = parse_quantity(value)
        except QuantityError as exc:
            raise ConfigError(f"capacity: {name}={value!r}: {exc}") from None
        if amount < 0:
            raise ConfigError(f"capacity: {name}={value!r}: must not be negative")
        if name == "pods" and amount.denominator != 1:
            raise ConfigError(f"capacity: pods={value!r}: must be a whole number")
        capacity[name] = value
    return capacity


def check_node_name(name: str) -> str:
    problems = dns1123_subdomain_problems(name)
    if problems:
        raise ConfigError(f"node name {name!r}: {'; '.join(problems)}")
    return name


@dataclass
class KubeletConfig:
    node_name: str = field(default_factory=default_node_name)
    servers: list[str] = field(default_factory=lambda: ["127.0.0.1:6443"])
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[core_pb2.Taint] = field(default_factory=list)
    capacity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    # Empty: derived from the pod CIDR the control plane allocates (see docs/runtime.md).
    node_ip: str = ""
    timing: Timing = DEFAULT
    metrics_listen: str = ""
