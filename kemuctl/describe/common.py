"""Pieces every describer shares: multi-line labels, annotations, taints and tolerations, the
Events table, pod templates with their containers and volumes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kemu.api.meta import controller_of, parse_time
from kemuctl.describe.writer import LEVEL_0, LEVEL_1, LEVEL_2, LEVEL_3, PrefixWriter
from kemuctl.printers.table import format_labels
from kemuctl.timefmt import rfc1123z, since

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION_LENGTH = 140


def labels_multiline(w: PrefixWriter, title: str, labels: Mapping[str, str],
                     initial_indent: str = "", inner_indent: str = "\t") -> None:
    w.write(LEVEL_0, f"{initial_indent}{title}:{inner_indent}")
    if not labels:
        w.line("<none>")
        return
    for index, key in enumerate(sorted(labels)):
        if index:
            w.write(LEVEL_0, initial_indent + inner_indent)
        w.write(LEVEL_0, f"{key}={labels[key]}\n")


def annotations_multiline(w: PrefixWriter, title: str, annotations: Mapping[str, str]) -> None:
    w.write(LEVEL_0, f"{title}:\t")
    keys = sorted(k for k in annotations if k != LAST_APPLIED)
    if not keys:
        w.line("<none>")
        return
    for index, key in enumerate(keys):
        if index:
            w.write(LEVEL_0, "\t")
        value = annotations[key].removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LENGTH or "\n" in value:
            w.write(LEVEL_0, f"{key}:\n")
            for piece in value.split("\n"):
                w.write(LEVEL_0, f"\t  {_shorten(piece, MAX_ANNOTATION_LENGTH - 2)}\n")
        else:
            w.write(LEVEL_0, f"{key}: {value}\n")


def _shorten(text: str, limit: int) -> str:
    return text[:limit] + "..." if len(text) > limit else text


def taint_string(taint: Any) -> str:
    if not taint.effect:
        return f"{taint.key}={taint.value}:" if taint.value else str(taint.key)
    if not taint.value:
        return f"{taint.key}:{taint.effect}"
    return f"{taint.key}={taint.value}:{taint.effect}"


def taints_multiline(w: PrefixWriter, title: str, taints: Sequence[Any]) -> None:
    w.write(LEVEL_0, f"{title}:\t")
    if not taints:
        w.line("<none>")
        return
    ordered = sorted(taints, key=lambda t: f"{t.effect},{t.key}")
    for index, taint in enumerate(ordered):
        if index:
            w.write(LEVEL_0, "\t")
        w.write(LEVEL_0, taint_string(taint) + "\n")


def toleration_string(toleration: Any) -> str:
    text = toleration.key
    if toleration.value:
        text += f"={toleration.value}"
    if toleration.effect:
        text += f":{toleration.effect}"
    if toleration.operator == "Exists" and not toleration.value:
        text += " op=Exists" if toleration.key or toleration.effect else "op=Exists"
    if toleration.HasField("toleration_seconds"):
        text += f" for {toleration.toleration_seconds}s"
    return str(text)


def tolerations_multiline(w: PrefixWriter, title: str, tolerations: Sequence[Any],
                          initial_indent: str = "") -> None:
    w.write(LEVEL_0, f"{initial_indent}{title}:\t")
    if not tolerations:
        w.line("<none>")
        return
    for index, toleration in enumerate(sorted(tolerations, key=lambda t: t.key)):
        if index:
            w.write(LEVEL_0, initial_indent + "\t")
        w.write(LEVEL_0, toleration_string(toleration) + "\n")


def controlled_by(obj: Any) -> str:
    owner = controller_of(obj)
    return f"{owner.kind}/{owner.name}" if owner is not None else ""


def _event_time(event: Any) -> float:
    return parse_time(event.last_timestamp or event.event_time or event.first_timestamp)


def events(w: PrefixWriter, items: Sequence[Any] | None, now: float) -> None:
    """kubectl's DescribeEvents: Type, Reason, Age, From, Message, oldest first."""
    if items is None:
        return
    if not items:
        w.write(LEVEL_0, "Events:\t<none>\n")
        return
    w.write(LEVEL_0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(LEVEL_1, "----\t------\t----\t----\t-------\n")
    for event in sorted(items, key=_event_time):
        first = since(event.event_time or event.first_timestamp, now)
        if event.count > 1:
            interval = f"{since(event.last_timestamp, now)} (x{event.count} over {first})"
        else:
            interval = first
        source = event.source.component or event.reporting_component
        w.write(LEVEL_1, f"{event.type}\t{event.reason}\t{interval}\t{source}\t"
                         f"{event.message.strip()}\n")


def resources(w: PrefixWriter, requirements: Any, level: int) -> None:
    if requirements.limits:
        w.write(level, "Limits:\n")
    for name in sorted(requirements.limits):
        w.write(level + 1, f"{name}:\t{requirements.limits[name].value}\n")
    if requirements.requests:
        w.write(level, "Requests:\n")
    for name in sorted(requirements.requests):
        w.write(level + 1, f"{name}:\t{requirements.requests[name].value}\n")


def _ports(ports: Sequence[Any], host: bool) -> str:
    return ", ".join(f"{p.host_port if host else p.container_port}/{p.protocol or 'TCP'}"
                     for p in ports)


def _state(w: PrefixWriter, title: str, state: Any) -> None:
    if state.HasField("running"):
        w.write(LEVEL_2, f"{title}:\tRunning\n")
        w.write(LEVEL_3, f"Started:\t{rfc1123z(state.running.started_at)}\n")
    elif state.HasField("waiting"):
        w.write(LEVEL_2, f"{title}:\tWaiting\n")
        if state.waiting.reason:
            w.write(LEVEL_3, f"Reason:\t{state.waiting.reason}\n")
    elif state.HasField("terminated"):
        terminated = state.terminated
        w.write(LEVEL_2, f"{title}:\tTerminated\n")
        if terminated.reason:
            w.write(LEVEL_3, f"Reason:\t{terminated.reason}\n")
        if terminated.message:
            w.write(LEVEL_3, f"Message:\t{terminated.message}\n")
        w.write(LEVEL_3, f"Exit Code:\t{terminated.exit_code}\n")
        if terminated.signal > 0:
            w.write(LEVEL_3, f"Signal:\t{terminated.signal}\n")
        w.write(LEVEL_3, f"Started:\t{rfc1123z(terminated.started_at)}\n")
        w.write(LEVEL_3, f"Finished:\t{rfc1123z(terminated.finished_at)}\n")
    else:
        w.write(LEVEL_2, f"{title}:\tWaiting\n")


def probe_string(probe: Any) -> str:
    attrs = (f"delay={probe.initial_delay_seconds}s timeout={probe.timeout_seconds}s "
             f"period={probe.period_seconds}s #success={probe.success_threshold} "
             f"#failure={probe.failure_threshold}")
    if probe.HasField("exec"):
        return f"exec [{' '.join(probe.exec.command)}] {attrs}"
    if probe.HasField("http_get"):
        get = probe.http_get
        port = _int_or_string(get.port)
        host = f"{get.host}:{port}" if port else get.host
        return f"http-get {(get.scheme or 'HTTP').lower()}://{host}{get.path} {attrs}"
    if probe.HasField("tcp_socket"):
        return f"tcp-socket {probe.tcp_socket.host}:{_int_or_string(probe.tcp_socket.port)} {attrs}"
    if probe.HasField("grpc"):
        service = probe.grpc.service if probe.grpc.HasField("service") else ""
        return f"grpc <pod>:{probe.grpc.port} {service} {attrs}"
    return f"unknown {attrs}"


def _int_or_string(value: Any) -> str:
    which = value.WhichOneof("value")
    if which == "int_value":
        return str(value.int_value)
    return str(value.string_value) if which else ""


def field_value(pod: Any, path: str) -> str:
    """The value a downward-API ``fieldRef`` of ``pod`` resolves to (kubectl's resolver)."""
    meta = pod.metadata
    simple = {"metadata.name": meta.name, "metadata.namespace": meta.namespace,
              "metadata.uid": meta.uid, "spec.nodeName": pod.spec.node_name,
              "spec.serviceAccountName": pod.spec.service_account_name,
              "status.podIP": pod.status.pod_ip, "status.hostIP": pod.status.host_ip}
    if path in simple:
        return str(simple[path])
    for prefix, values in (("metadata.labels", meta.labels),
                           ("metadata.annotations", meta.annotations)):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return str(values.get(path[len(prefix) + 2:-2], ""))
    return ""


def _env(w: PrefixWriter, container: Any, pod: Any | None) -> None:
    if container.env_from:
        w.write(LEVEL_2, "Environment Variables from:\n")
        for source in container.env_from:
            if source.HasField("config_map_ref"):
                origin, ref = "ConfigMap", source.config_map_ref
            else:
                origin, ref = "Secret", source.secret_ref
            optional = "true" if ref.HasField("optional") and ref.optional else "false"
            prefix = f" with prefix '{source.prefix}'" if source.prefix else ""
            w.write(LEVEL_3, f"{ref.name}\t{origin}{prefix}\tOptional: {optional}\n")
    w.write(LEVEL_2, "Environment:" + ("" if container.env else "\t<none>") + "\n")
    for variable in container.env:
        if not variable.HasField("value_from"):
            for index, piece in enumerate(variable.value.split("\n")):
                w.write(LEVEL_3, f"{variable.name}:\t{piece}\n" if index == 0 else f"\t{piece}\n")
            continue
        source = variable.value_from
        if source.HasField("field_ref"):
            ref = source.field_ref
            value = field_value(pod, ref.field_path) if pod is not None else ""
            w.write(LEVEL_3, f"{variable.name}:\t{value} ({ref.api_version}:{ref.field_path})\n")
        elif source.HasField("resource_field_ref"):
            w.write(LEVEL_3, f"{variable.name}:\t ({source.resource_field_ref.resource})\n")
        elif source.HasField("secret_key_ref"):
            ref = source.secret_key_ref
            optional = "true" if ref.HasField("optional") and ref.optional else "false"
            w.write(LEVEL_3, f"{variable.name}:\t<set to the key '{ref.key}' in secret "
                             f"'{ref.name}'>\tOptional: {optional}\n")
        elif source.HasField("config_map_key_ref"):
            ref = source.config_map_key_ref
            optional = "true" if ref.HasField("optional") and ref.optional else "false"
            w.write(LEVEL_3, f"{variable.name}:\t<set to the key '{ref.key}' of config map "
                             f"'{ref.name}'>\tOptional: {optional}\n")


def _mounts(w: PrefixWriter, container: Any) -> None:
    w.write(LEVEL_2, "Mounts:" + ("" if container.volume_mounts else "\t<none>") + "\n")
    for mount in sorted(container.volume_mounts, key=lambda m: m.mount_path):
        flags = ["ro" if mount.read_only else "rw"]
        if mount.sub_path:
            flags.append(f'path="{mount.sub_path}"')
        w.write(LEVEL_3, f"{mount.mount_path} from {mount.name} ({','.join(flags)})\n")


def containers(w: PrefixWriter, label: str, items: Sequence[Any], statuses: Sequence[Any] | None,
               space: str = "", pod: Any | None = None) -> None:
    by_name = {s.name: s for s in statuses or ()}
    w.write(LEVEL_0, f"{space}{label}:{'' if items else ' <none>'}\n")
    indent = " " if space else ""
    for container in items:
        status = by_name.get(container.name)
        w.write(LEVEL_1, f"{indent}{container.name}:\n")
        if status is not None:
            w.write(LEVEL_2, f"Container ID:\t{status.container_id}\n")
        w.write(LEVEL_2, f"Image:\t{container.image}\n")
        if status is not None:
            w.write(LEVEL_2, f"Image ID:\t{status.image_id}\n")
        ports = _ports(container.ports, host=False)
        w.write(LEVEL_2, f"Ports:\t{ports}\n" if "," in ports else f"Port:\t{ports or '<none>'}\n")
        host_ports = _ports(container.ports, host=True)
        w.write(LEVEL_2, f"Host Ports:\t{host_ports}\n" if "," in host_ports
                else f"Host Port:\t{host_ports or '<none>'}\n")
        for title, values in (("Command", container.command), ("Args", container.args)):
            if values:
                w.write(LEVEL_2, f"{title}:\n")
                for value in values:
                    for piece in value.split("\n"):
                        w.write(LEVEL_3, piece + "\n")
        if status is not None:
            _state(w, "State", status.state)
            if status.last_state.HasField("terminated"):
                _state(w, "Last State", status.last_state)
            w.write(LEVEL_2, f"Ready:\t{'True' if status.ready else 'False'}\n")
            w.write(LEVEL_2, f"Restart Count:\t{status.restart_count}\n")
        resources(w, container.resources, LEVEL_2)
        for title, field in (("Liveness", "liveness_probe"), ("Readiness", "readiness_probe"),
                             ("Startup", "startup_probe")):
            if container.HasField(field):
                w.write(LEVEL_2, f"{title}:\t{probe_string(getattr(container, field))}\n")
        _env(w, container, pod)
        _mounts(w, container)


def volumes(w: PrefixWriter, items: Sequence[Any], space: str = "") -> None:
    if not items:
        w.write(LEVEL_0, f"{space}Volumes:\t<none>\n")
        return
    w.write(LEVEL_0, f"{space}Volumes:\n")
    indent = " " if space else ""
    for volume in items:
        w.write(LEVEL_1, f"{indent}{volume.name}:\n")
        if volume.HasField("host_path"):
            kind = volume.host_path.type if volume.host_path.HasField("type") else "<none>"
            w.write(LEVEL_2, "Type:\tHostPath (bare host directory volume)\n"
                             f"    Path:\t{volume.host_path.path}\n    HostPathType:\t{kind}\n")
        elif volume.HasField("empty_dir"):
            limit = volume.empty_dir.size_limit.value or "<unset>"
            w.write(LEVEL_2, "Type:\tEmptyDir (a temporary directory that shares a pod's "
                             f"lifetime)\n    Medium:\t{volume.empty_dir.medium}\n"
                             f"    SizeLimit:\t{limit}\n")
        elif volume.HasField("config_map"):
            source = volume.config_map
            optional = "true" if source.HasField("optional") and source.optional else "false"
            w.write(LEVEL_2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                             f"    Name:\t{source.name}\n    Optional:\t{optional}\n")
        elif volume.HasField("secret"):
            source = volume.secret
            optional = "true" if source.HasField("optional") and source.optional else "false"
            w.write(LEVEL_2, "Type:\tSecret (a volume populated by a Secret)\n"
                             f"    SecretName:\t{source.secret_name}\n    Optional:\t{optional}\n")
        elif volume.HasField("persistent_volume_claim"):
            source = volume.persistent_volume_claim
            w.write(LEVEL_2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim "
                             f"in the same namespace)\n    ClaimName:\t{source.claim_name}\n"
                             f"    ReadOnly:\t{'true' if source.read_only else 'false'}\n")
        elif volume.HasField("nfs"):
            source = volume.nfs
            w.write(LEVEL_2, "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n"
                             f"    Server:\t{source.server}\n    Path:\t{source.path}\n"
                             f"    ReadOnly:\t{'true' if source.read_only else 'false'}\n")
        elif volume.HasField("projected"):
            w.write(LEVEL_2, "Type:\tProjected (a volume that contains injected data from "
                             "multiple sources)\n")
        elif volume.HasField("downward_api"):
            w.write(LEVEL_2, "Type:\tDownwardAPI (a volume populated by information about the "
                             "pod)\n    Items:\n")
            for item in volume.downward_api.items:
                if item.HasField("field_ref"):
                    w.write(LEVEL_3, f"{item.field_ref.field_path} -> {item.path}\n")
                if item.HasField("resource_field_ref"):
                    w.write(LEVEL_3, f"{item.resource_field_ref.resource} -> {item.path}\n")
        else:
            w.write(LEVEL_1, "<unknown>\n")


def pod_template(w: PrefixWriter, template: Any) -> None:
    """kubectl's DescribePodTemplate."""
    w.write(LEVEL_0, "Pod Template:\n")
    labels_multiline(w, "  Labels", template.metadata.labels)
    if template.metadata.annotations:
        annotations_multiline(w, "  Annotations", template.metadata.annotations)
    spec = template.spec
    if spec.service_account_name:
        w.write(LEVEL_1, f"Service Account:\t{spec.service_account_name}\n")
    if spec.init_containers:
        containers(w, "Init Containers", spec.init_containers, None, "  ")
    containers(w, "Containers", spec.containers, None, "  ")
    volumes(w, spec.volumes, "  ")
    if spec.priority_class_name:
        w.write(LEVEL_1, f"Priority Class Name:\t{spec.priority_class_name}\n")
    labels_multiline(w, "  Node-Selectors", spec.node_selector)
    tolerations_multiline(w, "Tolerations", spec.tolerations, "  ")


def selector_labels(selector: Mapping[str, str]) -> str:
    return format_labels(selector)
