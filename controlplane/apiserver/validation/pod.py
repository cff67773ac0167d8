"""PodSpec, pod templates, and Pods: what is valid on create, and what a pod update may change.

A PodSpec is checked the same way inside a Pod and inside a controller's template, except for
the few checks Kubernetes keeps for real pods (image whitespace, hostNetwork ports).
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.containers import (
    validate_containers,
    validate_init_containers,
)
from controlplane.apiserver.validation.meta import validate_annotations, validate_labels
from controlplane.apiserver.validation.scheduling import (
    validate_affinity,
    validate_tolerations,
    validate_topology_spread,
)
from controlplane.apiserver.validation.volumes import validate_volumes
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_subdomain_problems
from kemu.v1 import core_pb2

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
UPDATABLE_POD_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


@dataclass(frozen=True)
class PodSpecOptions:
    is_pod: bool = False
    # Volumes that exist without being in spec.volumes (a StatefulSet's volumeClaimTemplates).
    extra_volumes: frozenset[str] = frozenset()


TEMPLATE = PodSpecOptions()
POD = PodSpecOptions(is_pod=True)


def _security_context(context: core_pb2.PodSecurityContext, spec: core_pb2.PodSpec,
                      path: str) -> list[FieldError]:
    found: list[FieldError] = []
    bounds = common.inclusive_range(0, common.INT32_MAX)
    for field, json in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup"),
                        ("fs_group", "fsGroup")):
        if context.HasField(field):
            value = getattr(context, field)
            if not 0 <= value <= common.INT32_MAX:
                found.append(errors.invalid(f"{path}.{json}", value, bounds))
    for i, gid in enumerate(context.supplemental_groups):
        if not 0 <= gid <= common.INT32_MAX:
            found.append(errors.invalid(f"{path}.supplementalGroups[{i}]", gid, bounds))
    if spec.HasField("share_process_namespace") and spec.share_process_namespace and spec.host_pid:
        found.append(errors.invalid(f"{path}.shareProcessNamespace", True,
                                    "ShareProcessNamespace and HostPID cannot both be enabled"))
    return found


def _host_network_ports(spec: core_pb2.PodSpec, path: str, is_pod: bool) -> list[FieldError]:
    found: list[FieldError] = []
    if not spec.host_network:
        return found
    for i, container in enumerate(spec.containers):
        for j, port in enumerate(container.ports):
            if (is_pod or port.host_port != 0) and port.host_port != port.container_port:
                found.append(errors.invalid(f"{path}.containers[{i}].ports[{j}].hostPort",
                                            port.host_port, "must match `containerPort` when "
                                                            "`hostNetwork` is true"))
    return found


def _named(path: str, value: str) -> list[FieldError]:
    return common.invalid_each(path, value, dns1123_subdomain_problems(value)) if value else []


def validate_pod_spec(spec: core_pb2.PodSpec, path: str,
                      options: PodSpecOptions = TEMPLATE) -> list[FieldError]:
    found: list[FieldError] = []
    grace: int | None = None
    if not spec.HasField("termination_grace_period_seconds"):
        found.append(errors.required(f"{path}.terminationGracePeriodSeconds"))
    else:
        grace = spec.termination_grace_period_seconds
        found.extend(common.nonnegative(f"{path}.terminationGracePeriodSeconds", grace))
    volumes, volume_errors = validate_volumes(list(spec.volumes), f"{path}.volumes")
    found.extend(volume_errors)
    volumes |= options.extra_volumes
    found.extend(validate_containers(list(spec.containers), volumes, grace, f"{path}.containers"))
    found.extend(validate_init_containers(list(spec.init_containers), list(spec.containers),
                                          volumes, grace, f"{path}.initContainers"))
    found.extend(_host_network_ports(spec, path, options.is_pod))
    found.extend(common.supported(f"{path}.restartPolicy", spec.restart_policy,
                                  RESTART_POLICIES))
    found.extend(common.supported(f"{path}.dnsPolicy", spec.dns_policy, DNS_POLICIES))
    if spec.dns_policy == "None":
        found.append(errors.required(f"{path}.dnsConfig",
                                     "must provide `dnsConfig` when `dnsPolicy` is None"))
    found.extend(validate_labels(spec.node_selector, f"{path}.nodeSelector"))
    if spec.HasField("security_context"):
        found.extend(_security_context(spec.security_context, spec, f"{path}.securityContext"))
    if spec.HasField("affinity"):
        found.extend(validate_affinity(spec.affinity, f"{path}.affinity"))
    found.extend(validate_topology_spread(list(spec.topology_spread_constraints),
                                          f"{path}.topologySpreadConstraints"))
    found.extend(_named(f"{path}.serviceAccountName", spec.service_account_name))
    found.extend(_named(f"{path}.nodeName", spec.node_name))
    if spec.HasField("active_deadline_seconds"):
        value = spec.active_deadline_seconds
        if not 1 <= value <= common.INT32_MAX:
            found.append(errors.invalid(f"{path}.activeDeadlineSeconds", value,
                                        common.inclusive_range(1, common.INT32_MAX)))
    if spec.hostname:
        found.extend(common.dns_label(f"{path}.hostname", spec.hostname))
    if spec.subdomain:
        found.extend(common.dns_label(f"{path}.subdomain", spec.subdomain))
    found.extend(validate_tolerations(list(spec.tolerations), f"{path}.tolerations"))
    found.extend(_named(f"{path}.priorityClassName", spec.priority_class_name))
    if spec.preemption_policy:
        found.extend(common.supported(f"{path}.preemptionPolicy", spec.preemption_policy,
                                      PREEMPTION_POLICIES))
    if options.is_pod:
        for field, json in (("containers", "containers"), ("init_containers", "initContainers")):
            for i, container in enumerate(getattr(spec, field)):
                if container.image != container.image.strip():
                    found.append(errors.invalid(f"{path}.{json}[{i}].image", container.image,
                                                "must not have leading or trailing whitespace"))
    return found


def validate_pod_template(template: core_pb2.PodTemplateSpec, path: str,
                          options: PodSpecOptions = TEMPLATE) -> list[FieldError]:
    """ValidatePodTemplateSpec: note Kubernetes names the labels ``<path>.labels``."""
    found = validate_labels(template.metadata.labels, f"{path}.labels")
    found.extend(validate_annotations(template.metadata.annotations, f"{path}.annotations"))
    found.extend(validate_pod_spec(template.spec, f"{path}.spec", options))
    return found


def only_restart_policy(template: core_pb2.PodTemplateSpec, path: str,
                        allowed: tuple[str, ...]) -> list[FieldError]:
    policy = template.spec.restart_policy
    if policy in allowed:
        return []
    return [errors.unsupported(f"{path}.spec.restartPolicy", policy, allowed)]


def validate_pod(pod: core_pb2.Pod) -> list[FieldError]:
    return validate_pod_spec(pod.spec, "spec", POD)


def _container_updates(new: list[core_pb2.Container], old: list[core_pb2.Container],
                       path: str) -> tuple[list[FieldError], bool]:
    if len(new) != len(old):
        return [errors.forbidden(path, "pod updates may not add or remove containers")], True
    found: list[FieldError] = []
    for i, container in enumerate(new):
        if not container.image:
            found.append(errors.required(f"{path}[{i}].image"))
        elif container.image != container.image.strip():
            found.append(errors.invalid(f"{path}[{i}].image", container.image,
                                        "must not have leading or trailing whitespace"))
    return found, False


def _only_added_tolerations(new: list[core_pb2.Toleration],
                            old: list[core_pb2.Toleration]) -> list[FieldError]:
    for existing in old:
        wanted = core_pb2.Toleration()
        wanted.CopyFrom(existing)
        wanted.ClearField("toleration_seconds")
        for candidate in new:
            stripped = core_pb2.Toleration()
            stripped.CopyFrom(candidate)
            stripped.ClearField("toleration_seconds")
            if stripped == wanted:
                break
        else:
            return [errors.forbidden("spec.tolerations", "existing toleration can not be "
                                                         "modified except its tolerationSeconds")]
    return []


def validate_pod_update(new: core_pb2.Pod, old: core_pb2.Pod) -> list[FieldError]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations and the
    negative-grace-period repair may change in a pod's spec."""
    found = validate_pod(new)
    for field, json in (("containers", "containers"), ("init_containers", "initContainers")):
        problems, stop = _container_updates(list(getattr(new.spec, field)),
                                            list(getattr(old.spec, field)), f"spec.{json}")
        found.extend(problems)
        if stop:
            return found
    if new.spec.HasField("active_deadline_seconds"):
        value = new.spec.active_deadline_seconds
        if not 0 <= value <= common.INT32_MAX:
            return [*found, errors.invalid("spec.activeDeadlineSeconds", value,
                                           common.inclusive_range(0, common.INT32_MAX))]
        if old.spec.HasField("active_deadline_seconds") and old.spec.active_deadline_seconds < value:
            return [*found, errors.invalid("spec.activeDeadlineSeconds", value,
                                           "must be less than or equal to previous value")]
    elif old.spec.HasField("active_deadline_seconds"):
        found.append(errors.invalid("spec.activeDeadlineSeconds", None,
                                    "must not update from a positive integer to nil value"))
    found.extend(_only_added_tolerations(list(new.spec.tolerations), list(old.spec.tolerations)))
    if new.spec == old.spec:
        return found
    munged = core_pb2.PodSpec()
    munged.CopyFrom(new.spec)
    for field in ("containers", "init_containers"):
        for mine, theirs in zip(getattr(munged, field), getattr(old.spec, field), strict=True):
            mine.image = theirs.image
    munged.ClearField("active_deadline_seconds")
    if old.spec.HasField("active_deadline_seconds"):
        munged.active_deadline_seconds = old.spec.active_deadline_seconds
    del munged.tolerations[:]
    munged.tolerations.extend(old.spec.tolerations)
    if old.spec.HasField("termination_grace_period_seconds") and \
            old.spec.termination_grace_period_seconds < 0 and \
            munged.HasField("termination_grace_period_seconds") and \
            munged.termination_grace_period_seconds == 1:
        munged.termination_grace_period_seconds = old.spec.termination_grace_period_seconds
    if munged != old.spec:
        found.append(errors.forbidden(
            "spec", "pod updates may not change fields other than "
            + ",".join(UPDATABLE_POD_FIELDS)))
    return found


def validate_pod_status(pod: core_pb2.Pod) -> list[FieldError]:
    """The cheap checks of a status write: well-formed IPs, condition types, nominated node."""
    found: list[FieldError] = []
    for i, condition in enumerate(pod.status.conditions):
        if condition.type not in ("PodScheduled", "Ready", "Initialized"):
            found.extend(common.qualified_name(f"metadata.conditions[{i}].Type", condition.type))
    if pod.status.pod_ip:
        found.extend(common.invalid_each("status.podIP", pod.status.pod_ip,
                                         common.ip_problems(pod.status.pod_ip)))
    for i, pod_ip in enumerate(pod.status.pod_ips):
        found.extend(common.invalid_each(f"status.podIPs[{i}]", pod_ip.ip,
                                         common.ip_problems(pod_ip.ip)))
    for i, host_ip in enumerate(pod.status.host_ips):
        found.extend(common.invalid_each(f"status.hostIPs[{i}]", host_ip.ip,
                                         common.ip_problems(host_ip.ip)))
    found.extend(_named("status.nominatedNodeName", pod.status.nominated_node_name))
    return found
