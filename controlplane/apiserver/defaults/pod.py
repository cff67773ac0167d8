"""Pod and pod-template defaults, after pkg/apis/core/v1/defaults.go.

PodSpec: restartPolicy Always, dnsPolicy ClusterFirst, a 30 s grace period, the default
scheduler, an empty securityContext, service links on. Containers: imagePullPolicy from the
image tag, the termination message file and policy, TCP ports, probe timings, HTTP probe path
and scheme. Volumes: an emptyDir when no source is given, mode 0644 for projected files. Pods
(not templates) also get requests copied from limits and, on the host network, hostPort =
containerPort.
"""

from __future__ import annotations

import re

from kemu.v1 import core_pb2

DEFAULT_GRACE_SECONDS = 30
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_FILE_MODE = 0o644
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
VOLUME_SOURCES = ("empty_dir", "host_path", "config_map", "secret", "persistent_volume_claim",
                  "projected", "downward_api", "nfs")

_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^((?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::([\w][\w.-]{0,127}))?"
    r"(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$")


def image_tag(image: str) -> str:
    """The tag Kubernetes reads from an image reference: "latest" when neither a tag nor a
    digest is given, "" for a digest-only or unparsable reference."""
    match = _REFERENCE.match(image)
    if match is None or len(match.group(1)) > 255:
        return ""
    _, tag, digest = match.groups()
    if tag:
        return tag
    return "" if digest else "latest"


def default_pull_policy(image: str) -> str:
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def _http_get(action: core_pb2.HTTPGetAction) -> None:
    if not action.path:
        action.path = "/"
    if not action.scheme:
        action.scheme = "HTTP"


def _probe(probe: core_pb2.Probe) -> None:
    if probe.timeout_seconds == 0:
        probe.timeout_seconds = 1
    if probe.period_seconds == 0:
        probe.period_seconds = 10
    if probe.success_threshold == 0:
        probe.success_threshold = 1
    if probe.failure_threshold == 0:
        probe.failure_threshold = 3
    if probe.HasField("http_get"):
        _http_get(probe.http_get)
    if probe.HasField("grpc") and not probe.grpc.HasField("service"):
        probe.grpc.service = ""


def _field_ref(selector: core_pb2.ObjectFieldSelector) -> None:
    if not selector.api_version:
        selector.api_version = "v1"


def default_container(container: core_pb2.Container) -> None:
    if not container.image_pull_policy:
        container.image_pull_policy = default_pull_policy(container.image)
    if not container.termination_message_path:
        container.termination_message_path = TERMINATION_MESSAGE_PATH
    if not container.termination_message_policy:
        container.termination_message_policy = "File"
    for port in container.ports:
        if not port.protocol:
            port.protocol = "TCP"
    for field in ("liveness_probe", "readiness_probe", "startup_probe"):
        if container.HasField(field):
            _probe(getattr(container, field))
    if container.HasField("lifecycle"):
        for hook in (container.lifecycle.post_start, container.lifecycle.pre_stop):
            if hook.HasField("http_get"):
                _http_get(hook.http_get)
    for var in container.env:
        if var.HasField("value_from") and var.value_from.HasField("field_ref"):
            _field_ref(var.value_from.field_ref)


def default_volume(volume: core_pb2.Volume) -> None:
    if not any(volume.HasField(source) for source in VOLUME_SOURCES):
        volume.empty_dir.SetInParent()
    if volume.HasField("config_map") and not volume.config_map.HasField("default_mode"):
        volume.config_map.default_mode = DEFAULT_FILE_MODE
    if volume.HasField("secret") and not volume.secret.HasField("default_mode"):
        volume.secret.default_mode = DEFAULT_FILE_MODE
    if volume.HasField("host_path") and not volume.host_path.HasField("type"):
        volume.host_path.type = ""
    if volume.HasField("downward_api"):
        if not volume.downward_api.HasField("default_mode"):
            volume.downward_api.default_mode = DEFAULT_FILE_MODE
        for item in volume.downward_api.items:
            if item.HasField("field_ref"):
                _field_ref(item.field_ref)
    if volume.HasField("projected"):
        if not volume.projected.HasField("default_mode"):
            volume.projected.default_mode = DEFAULT_FILE_MODE
        for source in volume.projected.sources:
            if source.HasField("downward_api"):
                for item in source.downward_api.items:
                    if item.HasField("field_ref"):
                        _field_ref(item.field_ref)
            if source.HasField("service_account_token") and \
                    not source.service_account_token.HasField("expiration_seconds"):
                source.service_account_token.expiration_seconds = 3600


def default_pod_spec(spec: core_pb2.PodSpec) -> None:
    if not spec.dns_policy:
        spec.dns_policy = "ClusterFirst"
    if not spec.restart_policy:
        spec.restart_policy = "Always"
    spec.security_context.SetInParent()
    if not spec.HasField("termination_grace_period_seconds"):
        spec.termination_grace_period_seconds = DEFAULT_GRACE_SECONDS
    if not spec.scheduler_name:
        spec.scheduler_name = DEFAULT_SCHEDULER
    if not spec.HasField("enable_service_links"):
        spec.enable_service_links = True
    for container in (*spec.init_containers, *spec.containers):
        default_container(container)
    for volume in spec.volumes:
        default_volume(volume)


def default_pod_template(template: core_pb2.PodTemplateSpec) -> None:
    default_pod_spec(template.spec)


def default_pod(pod: core_pb2.Pod) -> None:
    spec = pod.spec
    default_pod_spec(spec)
    for container in (*spec.init_containers, *spec.containers):
        resources = container.resources
        for name, limit in resources.limits.items():
            if name not in resources.requests:
                resources.requests[name].CopyFrom(limit)
        if spec.host_network:
            for port in container.ports:
                if port.host_port == 0:
                    port.host_port = port.container_port
