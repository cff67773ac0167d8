"""Driving a kind's Strategy the way the registry does, without etcd: for validation tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from controlplane.apiserver.strategies import strategy_for
from controlplane.apiserver.strategy import Strategy
from kemu.api import codec, kinds
from kemu.api.errors import FieldError
from kemu.timing import FAST


def strategy(kind_name: str) -> Strategy:
    return strategy_for(kinds.by_name(kind_name), FAST)


def decode(kind_name: str, document: dict[str, Any]) -> Any:
    kind = kinds.by_name(kind_name)
    doc = {"apiVersion": kind.api_version, "kind": kind.name, **copy.deepcopy(document)}
    return codec.decode(kind.message, doc)


def create(kind_name: str, document: dict[str, Any]) -> tuple[Any, list[FieldError]]:
    """Default, stamp, prepare and validate a new object as Registry.create does."""
    kind = kinds.by_name(kind_name)
    obj = decode(kind_name, document)
    if kind.namespaced and not obj.metadata.namespace:
        obj.metadata.namespace = "default"
    chosen = strategy(kind_name)
    chosen.default(obj)
    obj.metadata.uid = str(uuid.uuid4())
    chosen.prepare_for_create(obj)
    return obj, chosen.validate(obj)


def valid(kind_name: str, document: dict[str, Any]) -> Any:
    obj, found = create(kind_name, document)
    assert found == [], [str(e) for e in found]
    return obj


def update(kind_name: str, new: Any, old: Any) -> tuple[Any, list[FieldError]]:
    """Default, prepare and validate an update of ``old`` to ``new`` as Registry.update does."""
    chosen = strategy(kind_name)
    new = copy.deepcopy(new)
    chosen.default(new)
    new.metadata.uid = old.metadata.uid
    chosen.prepare_for_update(new, old)
    return new, chosen.validate_update(new, old)


def status_update(kind_name: str, new: Any, old: Any) -> list[FieldError]:
    chosen = strategy(kind_name)
    new = copy.deepcopy(new)
    chosen.prepare_for_status_update(new, old)
    return chosen.validate_status_update(new, old)


def rendered(found: list[FieldError]) -> list[str]:
    return [str(e) for e in found]


def fields(found: list[FieldError]) -> list[str]:
    return [e.field for e in found]


def container(name: str = "app", image: str = "nginx:1.25", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def pod(spec: dict[str, Any] | None = None, name: str = "web",
        **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, **metadata},
            "spec": spec if spec is not None else {"containers": [container()]}}


def template(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": [container()], **spec}
    return {"metadata": {"labels": {"app": "web"} if labels is None else labels}, "spec": body}


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    body = {"selector": {"matchLabels": {"app": "web"}}, "template": template(), **spec}
    return {"metadata": {"name": name}, "spec": body}
