"""``describe`` for Service, Endpoints, Namespace, ConfigMap, PersistentVolumeClaim, and the
generic describer kubectl uses for kinds without their own (Lease, ControllerRevision, Event)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from kemu.api import codec
from kemuctl.describe import common
from kemuctl.describe.writer import LEVEL_0, LEVEL_1, LEVEL_2, PrefixWriter
from kemuctl.printers.misc import access_modes, storage_class
from kemuctl.printers.network import format_endpoints, service_type
from kemuctl.printers.table import format_labels
from kemuctl.timefmt import since

_ACRONYMS = {"API", "URL", "UID", "OSB", "GUID"}


def describe_service(service: Any, endpoints: Any | None, events: Sequence[Any] | None,
                     now: float) -> str:
    w = PrefixWriter()
    spec = service.spec
    w.write(LEVEL_0, f"Name:\t{service.metadata.name}\n")
    w.write(LEVEL_0, f"Namespace:\t{service.metadata.namespace}\n")
    common.labels_multiline(w, "Labels", service.metadata.labels)
    common.annotations_multiline(w, "Annotations", service.metadata.annotations)
    w.write(LEVEL_0, f"Selector:\t{format_labels(spec.selector)}\n")
    w.write(LEVEL_0, f"Type:\t{service_type(service)}\n")
    if spec.HasField("ip_family_policy"):
        w.write(LEVEL_0, f"IP Family Policy:\t{spec.ip_family_policy}\n")
    w.write(LEVEL_0, f"IP Families:\t{','.join(spec.ip_families) or '<none>'}\n")
    w.write(LEVEL_0, f"IP:\t{spec.cluster_ip}\n")
    w.write(LEVEL_0, f"IPs:\t{','.join(spec.cluster_ips) or '<none>'}\n")
    if spec.external_ips:
        w.write(LEVEL_0, f"External IPs:\t{','.join(spec.external_ips)}\n")
    if spec.load_balancer_ip:
        w.write(LEVEL_0, f"Desired LoadBalancer IP:\t{spec.load_balancer_ip}\n")
    if spec.external_name:
        w.write(LEVEL_0, f"External Name:\t{spec.external_name}\n")
    ingress = service.status.load_balancer.ingress
    if ingress:
        w.write(LEVEL_0, f"LoadBalancer Ingress:\t{', '.join(i.ip or i.hostname for i in ingress)}\n")
    for port in spec.ports:
        name = port.name or "<unset>"
        protocol = port.protocol or "TCP"
        w.write(LEVEL_0, f"Port:\t{name}\t{port.port}/{protocol}\n")
        target = port.target_port
        which = target.WhichOneof("value")
        target_text = target.string_value if which == "string_value" else \
            str(target.int_value if which else port.port)
        w.write(LEVEL_0, f"TargetPort:\t{target_text}/{protocol}\n")
        if port.node_port:
            w.write(LEVEL_0, f"NodePort:\t{name}\t{port.node_port}/{protocol}\n")
        text = format_endpoints(endpoints, {port.name}) if endpoints is not None else "<none>"
        w.write(LEVEL_0, f"Endpoints:\t{text}\n")
    w.write(LEVEL_0, f"Session Affinity:\t{spec.session_affinity or 'None'}\n")
    if spec.external_traffic_policy:
        w.write(LEVEL_0, f"External Traffic Policy:\t{spec.external_traffic_policy}\n")
    if spec.HasField("internal_traffic_policy"):
        w.write(LEVEL_0, f"Internal Traffic Policy:\t{spec.internal_traffic_policy}\n")
    common.events(w, events, now)
    return w.render()


def describe_endpoints(endpoints: Any, events: Sequence[Any] | None, now: float) -> str:
    w = PrefixWriter()
    w.write(LEVEL_0, f"Name:\t{endpoints.metadata.name}\n")
    w.write(LEVEL_0, f"Namespace:\t{endpoints.metadata.namespace}\n")
    common.labels_multiline(w, "Labels", endpoints.metadata.labels)
    common.annotations_multiline(w, "Annotations", endpoints.metadata.annotations)
    w.write(LEVEL_0, "Subsets:\n")
    for subset in endpoints.subsets:
        ready = ",".join(a.ip for a in subset.addresses) or "<none>"
        w.write(LEVEL_1, f"Addresses:\t{ready}\n")
        not_ready = ",".join(a.ip for a in subset.not_ready_addresses) or "<none>"
        w.write(LEVEL_1, f"NotReadyAddresses:\t{not_ready}\n")
        if subset.ports:
            w.write(LEVEL_1, "Ports:\n")
            w.write(LEVEL_2, "Name\tPort\tProtocol\n")
            w.write(LEVEL_2, "----\t----\t--------\n")
            for port in subset.ports:
                w.write(LEVEL_2, f"{port.name or '<unset>'}\t{port.port}\t"
                                 f"{port.protocol or 'TCP'}\n")
        w.write(LEVEL_0, "\n")
    common.events(w, events, now)
    return w.render()


def describe_namespace(namespace: Any) -> str:
    w = PrefixWriter()
    w.write(LEVEL_0, f"Name:\t{namespace.metadata.name}\n")
    common.labels_multiline(w, "Labels", namespace.metadata.labels)
    common.annotations_multiline(w, "Annotations", namespace.metadata.annotations)
    w.write(LEVEL_0, f"Status:\t{namespace.status.phase}\n")
    w.write(LEVEL_0, "\nNo resource quota.\n")
    w.write(LEVEL_0, "\nNo LimitRange resource.\n")
    return w.render()


def describe_config_map(cm: Any, events: Sequence[Any] | None, now: float) -> str:
    w = PrefixWriter()
    w.write(LEVEL_0, f"Name:\t{cm.metadata.name}\n")
    w.write(LEVEL_0, f"Namespace:\t{cm.metadata.namespace}\n")
    common.labels_multiline(w, "Labels", cm.metadata.labels)
    common.annotations_multiline(w, "Annotations", cm.metadata.annotations)
    w.write(LEVEL_0, "\nData\n====\n")
    for key in sorted(cm.data):
        w.write(LEVEL_0, f"{key}:\n----\n")
        w.write(LEVEL_0, f"{cm.data[key]}\n")
        w.write(LEVEL_0, "\n")
    w.write(LEVEL_0, "\nBinaryData\n====\n")
    for key in sorted(cm.binary_data):
        w.write(LEVEL_0, f"{key}: {len(cm.binary_data[key])} bytes\n")
    w.write(LEVEL_0, "\n")
    common.events(w, events, now)
    return w.render()


def describe_pvc(pvc: Any, used_by: Sequence[str], events: Sequence[Any] | None,
                 now: float) -> str:
    w = PrefixWriter()
    meta, spec = pvc.metadata, pvc.spec
    w.write(LEVEL_0, f"Name:\t{meta.name}\n")
    w.write(LEVEL_0, f"Namespace:\t{meta.namespace}\n")
    w.write(LEVEL_0, f"StorageClass:\t{storage_class(pvc)}\n")
    if meta.deletion_timestamp:
        w.write(LEVEL_0, f"Status:\tTerminating (lasts {since(meta.deletion_timestamp, now)})\n")
    else:
        w.write(LEVEL_0, f"Status:\t{pvc.status.phase}\n")
    w.write(LEVEL_0, f"Volume:\t{spec.volume_name}\n")
    common.labels_multiline(w, "Labels", meta.labels)
    common.annotations_multiline(w, "Annotations", meta.annotations)
    w.write(LEVEL_0, f"Finalizers:\t[{' '.join(meta.finalizers)}]\n")
    capacity = modes = ""
    if spec.volume_name:
        modes = access_modes(pvc.status.access_modes)
        capacity = pvc.status.capacity["storage"].value if "storage" in pvc.status.capacity else ""
    w.write(LEVEL_0, f"Capacity:\t{capacity}\n")
    w.write(LEVEL_0, f"Access Modes:\t{modes}\n")
    if spec.HasField("volume_mode"):
        w.write(LEVEL_0, f"VolumeMode:\t{spec.volume_mode}\n")
    w.write(LEVEL_0, "Used By:\t")
    if not used_by:
        w.line("<none>")
    for index, name in enumerate(sorted(used_by)):
        w.write(LEVEL_0, ("\t" if index else "") + name + "\n")
    common.events(w, events, now)
    return w.render()


def smart_label(field: str) -> str:
    """kubectl's smartLabelFor: ``holderIdentity`` becomes ``Holder Identity``."""
    if re.search(r"[^A-Za-z-]", field):
        return field
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|-", field)
    words = [p.upper() if p.upper() in _ACRONYMS else p[:1].upper() + p[1:] for p in parts]
    return " ".join(words)


_SKIP = {".metadata.managedFields", ".metadata.name", ".metadata.namespace", ".metadata.labels",
         ".metadata.annotations"}


def _unstructured(w: PrefixWriter, level: int, content: dict[str, Any], prefix: str) -> None:
    for key in sorted(content):
        value = content[key]
        path = f"{prefix}.{key}"
        if path in _SKIP:
            continue
        if isinstance(value, dict):
            w.write(level, f"{smart_label(key)}:\n")
            _unstructured(w, level + 1, value, path)
        elif isinstance(value, list):
            w.write(level, f"{smart_label(key)}:\n")
            for item in value:
                if isinstance(item, dict):
                    _unstructured(w, level + 1, item, path)
                else:
                    w.write(level + 1, f"{_go_value(item)}\n")
        else:
            w.write(level, f"{smart_label(key)}:\t{_go_value(value)}\n")


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe_generic(obj: Any, events: Sequence[Any] | None, now: float) -> str:
    w = PrefixWriter()
    w.write(LEVEL_0, f"Name:\t{obj.metadata.name}\n")
    w.write(LEVEL_0, f"Namespace:\t{obj.metadata.namespace}\n")
    common.labels_multiline(w, "Labels", obj.metadata.labels)
    common.annotations_multiline(w, "Annotations", obj.metadata.annotations)
    _unstructured(w, LEVEL_0, codec.encode(obj), "")
    common.events(w, events, now)
    return w.render()
