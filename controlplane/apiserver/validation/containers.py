"""Containers: names, images, ports, env, volume mounts, resources, probes and lifecycle hooks.

``validate_containers`` and ``validate_init_containers`` follow Kubernetes' split: names are
unique across app and init containers; probes and lifecycle hooks are allowed on init
containers only when they are sidecars (``restartPolicy: Always``).
"""

from __future__ import annotations

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.downward import (
    ENV_FIELD_PATHS,
    validate_object_field_selector,
    validate_resource_field_selector,
)
from controlplane.apiserver.validation.resources import validate_resource_requirements
from controlplane.apiserver.validation.volumes import local_descending_path
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_subdomain_problems
from kemu.v1 import core_pb2, meta_pb2

PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
HTTP_SCHEMES = ("HTTP", "HTTPS")
_SIDECAR_ONLY = "may not be set for init containers without restartPolicy=Always"


def _int_or_string_port(port: meta_pb2.IntOrString, path: str) -> list[FieldError]:
    if port.WhichOneof("value") == "string_value":
        return common.invalid_each(path, port.string_value,
                                   common.port_name_problems(port.string_value))
    return common.invalid_each(path, port.int_value, common.port_number_problems(port.int_value))


def _handler(handler: core_pb2.Probe | core_pb2.LifecycleHandler, grace: int | None,
             path: str) -> list[FieldError]:
    found: list[FieldError] = []
    present = [name for name in ("exec", "http_get", "tcp_socket", "grpc", "sleep")
               if name in handler.DESCRIPTOR.fields_by_name and handler.HasField(name)]
    if not present:
        return [errors.required(path, "must specify a handler type")]
    json = {"exec": "exec", "http_get": "httpGet", "tcp_socket": "tcpSocket", "grpc": "grpc",
            "sleep": "sleep"}
    for extra in present[1:]:
        found.append(errors.forbidden(f"{path}.{json[extra]}",
                                      "may not specify more than 1 handler type"))
    kind = present[0]
    at = f"{path}.{json[kind]}"
    if kind == "exec":
        if not handler.exec.command:
            found.append(errors.required(f"{at}.command"))
    elif kind == "http_get":
        http = handler.http_get
        if not http.path:
            found.append(errors.required(f"{at}.path"))
        found.extend(_int_or_string_port(http.port, f"{at}.port"))
        if http.scheme not in HTTP_SCHEMES:
            found.append(errors.unsupported(f"{at}.scheme", http.scheme, HTTP_SCHEMES))
        for header in http.http_headers:
            found.extend(common.invalid_each(f"{at}.httpHeaders", header.name,
                                             common.http_header_problems(header.name)))
    elif kind == "tcp_socket":
        found.extend(_int_or_string_port(handler.tcp_socket.port, f"{at}.port"))
    elif kind == "grpc":
        port = handler.grpc.port  # type: ignore[union-attr]
        found.extend(common.invalid_each(f"{at}.port", port, common.port_number_problems(port)))
    elif kind == "sleep":
        seconds = handler.sleep.seconds  # type: ignore[union-attr]
        if grace is not None and (seconds < 0 or seconds > grace):
            found.append(errors.invalid(at, seconds, "must be non-negative and less than "
                                                     f"terminationGracePeriodSeconds ({grace})"))
    return found


def _probe(probe: core_pb2.Probe, grace: int | None, path: str, kind: str) -> list[FieldError]:
    found = _handler(probe, grace, path)
    for field, json in (("initial_delay_seconds", "initialDelaySeconds"),
                        ("timeout_seconds", "timeoutSeconds"), ("period_seconds", "periodSeconds"),
                        ("success_threshold", "successThreshold"),
                        ("failure_threshold", "failureThreshold")):
        found.extend(common.nonnegative(f"{path}.{json}", getattr(probe, field)))
    if probe.HasField("termination_grace_period_seconds"):
        grace_path = f"{path}.terminationGracePeriodSeconds"
        if kind == "readiness":
            found.append(errors.invalid(grace_path, probe.termination_grace_period_seconds,
                                        "must not be set for readinessProbes"))
        elif probe.termination_grace_period_seconds <= 0:
            found.append(errors.invalid(grace_path, probe.termination_grace_period_seconds,
                                        "must be greater than 0"))
    if kind in ("liveness", "startup") and probe.success_threshold != 1:
        found.append(errors.invalid(f"{path}.successThreshold", probe.success_threshold,
                                    "must be 1"))
    return found


def _probes_and_hooks(container: core_pb2.Container, grace: int | None,
                      path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if container.HasField("lifecycle"):
        for field, json in (("post_start", "postStart"), ("pre_stop", "preStop")):
            if container.lifecycle.HasField(field):
                found.extend(_handler(getattr(container.lifecycle, field), grace,
                                      f"{path}.lifecycle.{json}"))
    for field, json, kind in (("liveness_probe", "livenessProbe", "liveness"),
                              ("readiness_probe", "readinessProbe", "readiness"),
                              ("startup_probe", "startupProbe", "startup")):
        if container.HasField(field):
            found.extend(_probe(getattr(container, field), grace, f"{path}.{json}", kind))
    return found


def _ports(ports: list[core_pb2.ContainerPort], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        item = f"{path}[{i}]"
        if port.name:
            problems = common.port_name_problems(port.name)
            if problems:
                found.extend(common.invalid_each(f"{item}.name", port.name, problems))
            elif port.name in names:
                found.append(errors.duplicate(f"{item}.name", port.name))
            else:
                names.add(port.name)
        if port.container_port == 0:
            found.append(errors.required(f"{item}.containerPort"))
        else:
            found.extend(common.invalid_each(f"{item}.containerPort", port.container_port,
                                             common.port_number_problems(port.container_port)))
        if port.host_port != 0:
            found.extend(common.invalid_each(f"{item}.hostPort", port.host_port,
                                             common.port_number_problems(port.host_port)))
        found.extend(common.supported(f"{item}.protocol", port.protocol, PROTOCOLS))
    return found


def _key_selector(selector: core_pb2.KeySelector, path: str) -> list[FieldError]:
    found = common.invalid_each(f"{path}.name", selector.name,
                                dns1123_subdomain_problems(selector.name))
    if not selector.key:
        found.append(errors.required(f"{path}.key"))
    else:
        found.extend(common.invalid_each(f"{path}.key", selector.key,
                                         common.config_key_problems(selector.key)))
    return found


def _env(env: list[core_pb2.EnvVar], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for i, var in enumerate(env):
        item = f"{path}[{i}]"
        if not var.name:
            found.append(errors.required(f"{item}.name"))
        else:
            found.extend(common.invalid_each(f"{item}.name", var.name,
                                             common.env_var_name_problems(var.name)))
        if not var.HasField("value_from"):
            continue
        source = var.value_from
        at = f"{item}.valueFrom"
        count = 0
        if source.HasField("field_ref"):
            count += 1
            found.extend(validate_object_field_selector(source.field_ref, ENV_FIELD_PATHS,
                                                        f"{at}.fieldRef"))
        if source.HasField("resource_field_ref"):
            count += 1
            found.extend(validate_resource_field_selector(source.resource_field_ref,
                                                          f"{at}.resourceFieldRef", volume=False))
        if source.HasField("config_map_key_ref"):
            count += 1
            found.extend(_key_selector(source.config_map_key_ref, f"{at}.configMapKeyRef"))
        if source.HasField("secret_key_ref"):
            count += 1
            found.extend(_key_selector(source.secret_key_ref, f"{at}.secretKeyRef"))
        if count == 0:
            found.append(errors.invalid(at, "", "must specify one of: `fieldRef`, "
                                        "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
        elif var.value:
            found.append(errors.invalid(at, "", "may not be specified when `value` is not empty"))
        elif count > 1:
            found.append(errors.invalid(at, "", "may not have more than one field specified at "
                                                "a time"))
    return found


def _env_from(sources: list[core_pb2.EnvFromSource], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for i, source in enumerate(sources):
        item = f"{path}[{i}]"
        if source.prefix:
            found.extend(common.invalid_each(f"{item}.prefix", source.prefix,
                                             common.env_var_name_problems(source.prefix)))
        count = 0
        for field, json in (("config_map_ref", "configMapRef"), ("secret_ref", "secretRef")):
            if source.HasField(field):
                count += 1
                ref = getattr(source, field)
                if not ref.name:
                    found.append(errors.required(f"{item}.{json}.name"))
                else:
                    prefix = ref.name.rstrip("-") or "x"
                    found.extend(common.invalid_each(f"{item}.{json}.name", ref.name,
                                                     dns1123_subdomain_problems(prefix)))
        if count == 0:
            found.append(errors.invalid(path, "", "must specify one of: `configMapRef` or "
                                                  "`secretRef`"))
        elif count > 1:
            found.append(errors.invalid(path, "", "may not have more than one field specified "
                                                  "at a time"))
    return found


def _mounts(mounts: list[core_pb2.VolumeMount], volumes: set[str], privileged: bool,
            path: str) -> list[FieldError]:
    found: list[FieldError] = []
    mount_points: set[str] = set()
    for i, mount in enumerate(mounts):
        item = f"{path}[{i}]"
        if not mount.name:
            found.append(errors.required(f"{item}.name"))
        if mount.name not in volumes:
            found.append(errors.not_found(f"{item}.name", mount.name))
        if not mount.mount_path:
            found.append(errors.required(f"{item}.mountPath"))
        if mount.mount_path in mount_points:
            found.append(errors.invalid(f"{item}.mountPath", mount.mount_path, "must be unique"))
        mount_points.add(mount.mount_path)
        if mount.sub_path:
            found.extend(local_descending_path(f"{path}.subPath", mount.sub_path))
        if mount.sub_path_expr:
            if mount.sub_path:
                found.append(errors.invalid(f"{item}.subPathExpr", mount.sub_path_expr,
                                            "subPathExpr and subPath are mutually exclusive"))
            found.extend(local_descending_path(f"{path}.subPathExpr", mount.sub_path_expr))
        if mount.mount_propagation:
            allowed = ("Bidirectional", "HostToContainer", "None")
            if mount.mount_propagation not in allowed:
                found.append(errors.unsupported(f"{path}.mountPropagation",
                                                mount.mount_propagation, allowed))
            elif mount.mount_propagation == "Bidirectional" and not privileged:
                found.append(errors.forbidden(f"{path}.mountPropagation", "Bidirectional mount "
                                              "propagation is available only to privileged "
                                              "containers"))
    return found


def _security_context(context: core_pb2.SecurityContext, path: str) -> list[FieldError]:
    found: list[FieldError] = []
    for field, json in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup")):
        if context.HasField(field):
            value = getattr(context, field)
            if not 0 <= value <= common.INT32_MAX:
                found.append(errors.invalid(f"{path}.{json}", value,
                                            common.inclusive_range(0, common.INT32_MAX)))
    if context.HasField("allow_privilege_escalation") and not context.allow_privilege_escalation:
        if context.HasField("privileged") and context.privileged:
            found.append(errors.invalid(path, common.message_json(context),
                                        "cannot set `allowPrivilegeEscalation` to false and "
                                        "`privileged` to true"))
        if "CAP_SYS_ADMIN" in context.capabilities.add:
            found.append(errors.invalid(path, common.message_json(context),
                                        "cannot set `allowPrivilegeEscalation` to false and "
                                        "`capabilities.Add` CAP_SYS_ADMIN"))
    return found


def _common(container: core_pb2.Container, volumes: set[str], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if not container.name:
        found.append(errors.required(f"{path}.name"))
    else:
        found.extend(common.dns_label(f"{path}.name", container.name))
    if not container.image:
        found.append(errors.required(f"{path}.image"))
    found.extend(common.supported(f"{path}.terminationMessagePolicy",
                                  container.termination_message_policy,
                                  TERMINATION_MESSAGE_POLICIES))
    found.extend(_ports(list(container.ports), f"{path}.ports"))
    found.extend(_env(list(container.env), f"{path}.env"))
    found.extend(_env_from(list(container.env_from), f"{path}.envFrom"))
    privileged = container.security_context.HasField("privileged") and \
        container.security_context.privileged
    found.extend(_mounts(list(container.volume_mounts), volumes, privileged,
                         f"{path}.volumeMounts"))
    found.extend(common.supported(f"{path}.imagePullPolicy", container.image_pull_policy,
                                  PULL_POLICIES))
    found.extend(validate_resource_requirements(container.resources.limits,
                                                container.resources.requests,
                                                f"{path}.resources"))
    if container.HasField("security_context"):
        found.extend(_security_context(container.security_context, f"{path}.securityContext"))
    return found


def _host_port_conflicts(containers: list[core_pb2.Container], path: str,
                         seen: set[str]) -> list[FieldError]:
    found: list[FieldError] = []
    for ci, container in enumerate(containers):
        for pi, port in enumerate(container.ports):
            if port.host_port == 0:
                continue
            key = f"{port.protocol}/{port.host_ip}/{port.host_port}"
            if key in seen:
                found.append(errors.duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return found


def validate_containers(containers: list[core_pb2.Container], volumes: set[str],
                        grace: int | None, path: str) -> list[FieldError]:
    if not containers:
        return [errors.required(path)]
    found: list[FieldError] = []
    names: set[str] = set()
    for i, container in enumerate(containers):
        item = f"{path}[{i}]"
        found.extend(_common(container, volumes, item))
        if container.name in names:
            found.append(errors.duplicate(f"{item}.name", container.name))
        names.add(container.name)
        found.extend(_probes_and_hooks(container, grace, item))
        if container.HasField("restart_policy"):
            found.append(errors.forbidden(f"{item}.restartPolicy",
                                          "may not be set for non-init containers"))
    found.extend(_host_port_conflicts(containers, path, set()))
    return found


def validate_init_containers(init: list[core_pb2.Container], regular: list[core_pb2.Container],
                             volumes: set[str], grace: int | None,
                             path: str) -> list[FieldError]:
    found: list[FieldError] = []
    names = {c.name for c in regular}
    for i, container in enumerate(init):
        item = f"{path}[{i}]"
        found.extend(_common(container, volumes, item))
        sidecar = False
        if container.HasField("restart_policy"):
            sidecar = container.restart_policy == "Always"
            if not sidecar:
                found.append(errors.unsupported(f"{item}.restartPolicy",
                                                container.restart_policy, ("Always",)))
        if container.name in names:
            found.append(errors.duplicate(f"{item}.name", container.name))
        elif container.name:
            names.add(container.name)
        found.extend(_host_port_conflicts([container], path, set()))
        if sidecar:
            found.extend(_probes_and_hooks(container, grace, item))
        else:
            for field, json in (("lifecycle", "lifecycle"), ("liveness_probe", "livenessProbe"),
                                ("readiness_probe", "readinessProbe"),
                                ("startup_probe", "startupProbe")):
                if container.HasField(field):
                    found.append(errors.forbidden(f"{item}.{json}", _SIDECAR_ONLY))
    return found
