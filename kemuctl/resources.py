"""From the words a user typed to kinds and names, as kubectl's resource builder reads them.

``pods``, ``po``, ``pod``, ``Pod``, ``replicasets.apps``, ``deployments.v1.apps`` and the
``all`` category resolve through ``kemu.api.kinds``; arguments are either ``TYPE[,TYPE] [NAME...]``
or ``TYPE/NAME ...``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kemu.api import kinds
from kemu.api.kinds import Kind
from kemuctl.errors import CliError

_VERSION = re.compile(r"^v\d+((alpha|beta)\d+)?$")

# What ``kubectl get all`` lists, in kubectl's order.
ALL_CATEGORY = ("Pod", "ReplicationController", "Service", "DaemonSet", "Deployment", "ReplicaSet",
                "StatefulSet", "CronJob", "Job")

MIXED_ARGS = ("there is no need to specify a resource type as a separate argument when passing "
              "arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' "
              "instead of 'kubectl get resource resource/<resource_name>'")


def resolve_kind(word: str) -> Kind:
    """The kind a resource word names; ``the server doesn't have a resource type`` otherwise."""
    try:
        return kinds.resolve(word)
    except kinds.UnknownKindError:
        pass
    parts = word.split(".")
    if len(parts) >= 2 and _VERSION.match(parts[1]):
        try:
            kind = kinds.resolve(".".join([parts[0], *parts[2:]]))
        except kinds.UnknownKindError:
            pass
        else:
            if kind.version == parts[1]:
                return kind
    raise CliError(f'the server doesn\'t have a resource type "{word}"')


def resolve_kinds(words: str) -> list[Kind]:
    """``rs,svc`` or ``all``: kinds in order, without repeats."""
    found: list[Kind] = []
    for word in words.split(","):
        if not word:
            continue
        expanded = [kinds.by_name(n) for n in ALL_CATEGORY] if word.lower() == "all" \
            else [resolve_kind(word)]
        for kind in expanded:
            if kind not in found:
                found.append(kind)
    if not found:
        raise CliError(f'the server doesn\'t have a resource type "{words}"')
    return found


@dataclass
class Request:
    """One kind and the names asked for (no names: every object of the kind)."""

    kind: Kind
    names: list[str] = field(default_factory=list)


def parse_args(args: Sequence[str]) -> list[Request]:
    """``TYPE[,TYPE] [NAME...]`` or ``TYPE/NAME [TYPE/NAME...]``."""
    if not args:
        return []
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise CliError(MIXED_ARGS)
        requests: list[Request] = []
        for arg in args:
            word, _, name = arg.partition("/")
            if not word or not name:
                raise CliError(f"arguments in resource/name form must have a single resource and "
                               f"name: {arg}")
            kind = resolve_kind(word)
            if requests and requests[-1].kind == kind:
                requests[-1].names.append(name)
            else:
                requests.append(Request(kind, [name]))
        return requests
    kind_list = resolve_kinds(args[0])
    names = list(args[1:])
    return [Request(kind, list(names)) for kind in kind_list]


def single_kind(word: str) -> Kind:
    found = resolve_kinds(word)
    if len(found) != 1:
        raise CliError("you must specify only one resource")
    return found[0]


def parse_name_args(args: Sequence[str], command: str) -> tuple[Kind, list[str]]:
    """``KIND NAME...`` or ``KIND/NAME...`` of a single kind (scale, rollout, cordon ...)."""
    requests = parse_args(args)
    if not requests:
        raise CliError(f"required resource not specified for {command}")
    kind = requests[0].kind
    if any(r.kind != kind for r in requests):
        raise CliError("you must specify only one resource type")
    names = [n for r in requests for n in r.names]
    return kind, names
