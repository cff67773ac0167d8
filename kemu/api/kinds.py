"""The registry of kinds: names, API groups, resource names, short names and message classes.

Everything that needs to go from a word a user typed (``deploy``, ``replicasets.apps``, ``Pod``)
or from a manifest's ``apiVersion``/``kind`` to a protobuf class asks this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from kemu.v1 import api_pb2, apps_pb2, batch_pb2, coordination_pb2, core_pb2


@dataclass(frozen=True)
class Kind:
    name: str
    group: str
    version: str
    plural: str
    short_names: tuple[str, ...]
    namespaced: bool
    message: type[Message]
    envelope_field: str
    has_status: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.name.lower()

    @property
    def qualified_singular(self) -> str:
        """``replicaset.apps`` / ``pod``: how kubectl names the kind in ``created`` lines."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    @property
    def qualified_plural(self) -> str:
        """``replicasets.apps`` / ``pods``: the resource in error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``ReplicaSet.apps`` / ``Pod``: how Kubernetes names the kind in validation errors."""
        return f"{self.name}.{self.group}" if self.group else self.name

    def new(self) -> Any:
        return self.message()


_KINDS: tuple[Kind, ...] = (
    Kind("Namespace", "", "v1", "namespaces", ("ns",), False, core_pb2.Namespace, "namespace"),
    Kind("Node", "", "v1", "nodes", ("no",), False, core_pb2.Node, "node"),
    Kind("Pod", "", "v1", "pods", ("po",), True, core_pb2.Pod, "pod"),
    Kind("Event", "", "v1", "events", ("ev",), True, core_pb2.Event, "event", has_status=False),
    Kind("Lease", "coordination.k8s.io", "v1", "leases", (), True, coordination_pb2.Lease, "lease",
         has_status=False),
    Kind("ReplicaSet", "apps", "v1", "replicasets", ("rs",), True, apps_pb2.ReplicaSet,
         "replica_set"),
    Kind("ReplicationController", "", "v1", "replicationcontrollers", ("rc",), True,
         core_pb2.ReplicationController, "replication_controller"),
    Kind("Deployment", "apps", "v1", "deployments", ("deploy",), True, apps_pb2.Deployment,
         "deployment"),
    Kind("DaemonSet", "apps", "v1", "daemonsets", ("ds",), True, apps_pb2.DaemonSet, "daemon_set"),
    Kind("StatefulSet", "apps", "v1", "statefulsets", ("sts",), True, apps_pb2.StatefulSet,
         "stateful_set"),
    Kind("ControllerRevision", "apps", "v1", "controllerrevisions", (), True,
         apps_pb2.ControllerRevision, "controller_revision", has_status=False),
    Kind("Job", "batch", "v1", "jobs", (), True, batch_pb2.Job, "job"),
    Kind("CronJob", "batch", "v1", "cronjobs", ("cj",), True, batch_pb2.CronJob, "cron_job"),
    Kind("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", ("pvc",), True,
         core_pb2.PersistentVolumeClaim, "persistent_volume_claim"),
    Kind("Service", "", "v1", "services", ("svc",), True, core_pb2.Service, "service"),
    Kind("Endpoints", "", "v1", "endpoints", ("ep",), True, core_pb2.Endpoints, "endpoints",
         has_status=False),
    Kind("ConfigMap", "", "v1", "configmaps", ("cm",), True, core_pb2.ConfigMap, "config_map",
         has_status=False),
)

_BY_NAME = {k.name: k for k in _KINDS}
_BY_MESSAGE = {k.message.DESCRIPTOR.full_name: k for k in _KINDS}
_BY_ENVELOPE = {k.envelope_field: k for k in _KINDS}
_BY_WORD: dict[str, Kind] = {}
for _k in _KINDS:
    for _word in (_k.name.lower(), _k.plural, _k.singular, *_k.short_names):
        _BY_WORD[_word] = _k
        if _k.group:
            _BY_WORD[f"{_word}.{_k.group}"] = _k


class UnknownKindError(LookupError):
    pass


def all_kinds() -> Iterator[Kind]:
    return iter(_KINDS)


def by_name(name: str) -> Kind:
    """The kind called exactly ``name`` (``ReplicaSet``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownKindError(f'no kind "{name}" is registered') from None


def resolve(word: str) -> Kind:
    """What a user typed: a kind, plural, singular, short name, optionally ``.group``."""
    found = _BY_WORD.get(word.lower()) or _BY_NAME.get(word)
    if found is None:
        raise UnknownKindError(f'the server doesn\'t have a resource type "{word}"')
    return found


def for_manifest(api_version: str, kind: str) -> Kind:
    """The kind a manifest's apiVersion and kind name, as Kubernetes' REST mapper resolves it."""
    found = _BY_NAME.get(kind)
    if found is None or found.api_version != api_version:
        raise UnknownKindError(f'no matches for kind "{kind}" in version "{api_version}"')
    return found


def of(message: Message) -> Kind:
    """The kind of a message instance."""
    try:
        return _BY_MESSAGE[message.DESCRIPTOR.full_name]
    except KeyError:
        raise UnknownKindError(f"{message.DESCRIPTOR.full_name} is not a kind") from None


def of_class(message_class: type[Message]) -> Kind:
    """The kind whose message class this is."""
    try:
        return _BY_MESSAGE[message_class.DESCRIPTOR.full_name]
    except KeyError:
        raise UnknownKindError(f"{message_class.DESCRIPTOR.full_name} is not a kind") from None


def wrap(message: Message) -> api_pb2.Object:
    """Put a kind's message into the ``Object`` envelope."""
    envelope = api_pb2.Object()
    getattr(envelope, of(message).envelope_field).CopyFrom(message)
    return envelope


def unwrap(envelope: api_pb2.Object) -> Any:
    """Take the message out of an ``Object`` envelope."""
    which = envelope.WhichOneof("object")
    if which is None:
        raise UnknownKindError("the object carries no kind")
    return getattr(envelope, which)


def kind_of_envelope(envelope: api_pb2.Object) -> Kind:
    which = envelope.WhichOneof("object")
    if which is None:
        raise UnknownKindError("the object carries no kind")
    return _BY_ENVELOPE[which]
