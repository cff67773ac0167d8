"""Nodes: taints, pod CIDRs, provider ID, and resource quantities in their status."""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.scheduling import taint_effect
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import label_value_problems, qualified_name_problems
from kemu.v1 import core_pb2, meta_pb2

CIDR_CHANGE = 'node updates may not change podCIDR except from "" to valid'
PROVIDER_CHANGE = 'node updates may not change providerID except from "" to valid'


def validate_taints(taints: list[core_pb2.Taint], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        item = f"{path}[{i}]"
        found.extend(common.invalid_each(f"{item}.key", taint.key,
                                         qualified_name_problems(taint.key)))
        problems = label_value_problems(taint.value)
        if problems:
            found.append(errors.invalid(f"{item}.value", taint.value, ";".join(problems)))
        found.extend(taint_effect(taint.effect, f"{item}.effect", allow_empty=False))
        if (taint.effect, taint.key) in seen:
            found.append(errors.FieldError(errors.FieldErrorType.DUPLICATE, item,
                                           "taints must be unique by key and effect pair",
                                           common.message_json(taint)))
            continue
        seen.add((taint.effect, taint.key))
    return found


def _quantities(resources: Mapping[str, meta_pb2.Quantity], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for name in sorted(resources):
        found.extend(common.quantity(f"{path}.{name}", resources[name].value)[1])
    return found


def validate_node_status(node: core_pb2.Node) -> list[FieldError]:
    found = _quantities(node.status.capacity, "status.capacity")
    found.extend(_quantities(node.status.allocatable, "status.allocatable"))
    return found


def validate_node(node: core_pb2.Node) -> list[FieldError]:
    found = validate_taints(list(node.spec.taints), "spec.taints")
    found.extend(validate_node_status(node))
    cidrs = list(node.spec.pod_cidrs)
    for i, cidr in enumerate(cidrs):
        found.extend(common.invalid_each(f"spec.podCIDRs[{i}]", cidr, common.cidr_problems(cidr)))
    if len(cidrs) > 2:
        found.append(errors.invalid("spec.podCIDRs", cidrs,
                                    "may specify no more than one CIDR for each IP family"))
    for i, cidr in enumerate(cidrs):
        if cidr in cidrs[:i]:
            found.append(errors.duplicate(f"spec.podCIDRs[{i}]", cidr))
    return found


def validate_node_update(new: core_pb2.Node, old: core_pb2.Node) -> list[FieldError]:
    found: list[FieldError] = []
    if old.spec.pod_cidrs and list(old.spec.pod_cidrs) != list(new.spec.pod_cidrs):
        found.append(errors.forbidden("spec.podCIDRs", CIDR_CHANGE))
    if old.spec.provider_id and old.spec.provider_id != new.spec.provider_id:
        found.append(errors.forbidden("spec.providerID", PROVIDER_CHANGE))
    addresses: set[tuple[str, str]] = set()
    for i, address in enumerate(new.status.addresses):
        key = (address.type, address.address)
        if key in addresses:
            found.append(errors.duplicate(f"status.addresses[{i}]", common.message_json(address)))
        addresses.add(key)
    return found
