"""Services and Endpoints: ports, types, selectors, cluster IPs and traffic policies."""

from __future__ import annotations

import ipaddress
from typing import Any

from controlplane.apiserver.validation import common
from controlplane.apiserver.validation.meta import validate_labels
from kemu.api import errors
from kemu.api.errors import FieldError
from kemu.api.names import dns1123_subdomain_problems
from kemu.v1 import core_pb2

PROTOCOLS = ("SCTP", "TCP", "UDP")
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")


def is_headless(service: core_pb2.Service) -> bool:
    return list(service.spec.cluster_ips) == ["None"]


def externally_accessible(spec: core_pb2.ServiceSpec) -> bool:
    return spec.type in ("LoadBalancer", "NodePort") or \
        (spec.type == "ClusterIP" and bool(spec.external_ips))


def _port(port: core_pb2.ServicePort, require_name: bool, names: set[str],
          path: str) -> list[FieldError]:
    found: list[FieldError] = []
    if require_name and not port.name:
        found.append(errors.required(f"{path}.name"))
    elif port.name:
        found.extend(common.dns_label(f"{path}.name", port.name))
        if port.name in names:
            found.append(errors.duplicate(f"{path}.name", port.name))
        names.add(port.name)
    found.extend(common.invalid_each(f"{path}.port", port.port,
                                     common.port_number_problems(port.port)))
    found.extend(common.supported(f"{path}.protocol", port.protocol, PROTOCOLS))
    target = port.target_port
    if target.WhichOneof("value") == "string_value":
        found.extend(common.invalid_each(f"{path}.targetPort", target.string_value,
                                         common.port_name_problems(target.string_value)))
    else:
        found.extend(common.invalid_each(f"{path}.targetPort", target.int_value,
                                         common.port_number_problems(target.int_value)))
    if port.HasField("app_protocol"):
        found.extend(common.qualified_name(f"{path}.appProtocol", port.app_protocol))
    return found


def _cluster_ips(service: core_pb2.Service) -> list[FieldError]:
    spec = service.spec
    found: list[FieldError] = []
    ips = list(spec.cluster_ips)
    if spec.cluster_ip:
        if not ips:
            found.append(errors.required("spec.clusterIPs"))
        elif ips[0] != spec.cluster_ip:
            found.append(errors.invalid("spec.clusterIPs", ips, "first value must match "
                                                                "`clusterIP`"))
    elif ips:
        found.append(errors.invalid("spec.clusterIPs", ips,
                                    "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, family in enumerate(spec.ip_families):
        if family not in IP_FAMILIES:
            found.append(errors.unsupported(f"spec.ipFamilies[{i}]", family, IP_FAMILIES))
        if family in seen:
            found.append(errors.duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(family)
    if spec.HasField("ip_family_policy") and spec.ip_family_policy not in IP_FAMILY_POLICIES:
        found.append(errors.unsupported("spec.ipFamilyPolicy", spec.ip_family_policy,
                                        IP_FAMILY_POLICIES))
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                found.append(errors.invalid("spec.clusterIPs", ips,
                                            "'None' must be the first and only value"))
            continue
        found.extend(common.invalid_each(f"spec.clusterIPs[{i}]", ip, common.ip_problems(ip)))
    if len(ips) > 2:
        found.append(errors.invalid("spec.clusterIPs", ips, "may only hold up to 2 values"))
    return found


def validate_service(service: core_pb2.Service) -> list[FieldError]:
    spec = service.spec
    found: list[FieldError] = []
    headless = is_headless(service)
    if not spec.ports and not headless and spec.type != "ExternalName":
        found.append(errors.required("spec.ports"))
    if spec.type in ("LoadBalancer", "NodePort") and headless:
        found.append(errors.invalid("spec.clusterIPs[0]", "None",
                                    f"may not be set to 'None' for {spec.type} services"))
    if spec.type == "ExternalName":
        if spec.cluster_ips:
            found.append(errors.forbidden("spec.clusterIPs", "may not be set for ExternalName "
                                                             "services"))
        if spec.ip_families:
            found.append(errors.forbidden("spec.ipFamilies", "may not be set for ExternalName "
                                                             "services"))
        if spec.HasField("ip_family_policy"):
            found.append(errors.forbidden("spec.ipFamilyPolicy", "may not be set for "
                                                                 "ExternalName services"))
        cname = spec.external_name.removesuffix(".")
        if cname:
            found.extend(common.invalid_each("spec.externalName", cname,
                                             dns1123_subdomain_problems(cname)))
        else:
            found.append(errors.required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(spec.ports):
        found.extend(_port(port, len(spec.ports) > 1, names, f"spec.ports[{i}]"))
    found.extend(validate_labels(spec.selector, "spec.selector"))
    found.extend(common.supported("spec.sessionAffinity", spec.session_affinity,
                                  SESSION_AFFINITIES))
    if spec.type != "ExternalName":
        found.extend(_cluster_ips(service))
    for i, ip in enumerate(spec.external_ips):
        found.extend(common.invalid_each(f"spec.externalIPs[{i}]", ip, common.ip_problems(ip)))
    found.extend(common.supported("spec.type", spec.type, SERVICE_TYPES))
    if spec.type == "ClusterIP":
        for i, port in enumerate(spec.ports):
            if port.node_port:
                found.append(errors.forbidden(f"spec.ports[{i}].nodePort",
                                              "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple[str, int]] = set()
    ports: set[tuple[str, int]] = set()
    for i, port in enumerate(spec.ports):
        if port.node_port:
            if (port.protocol, port.node_port) in node_ports:
                found.append(errors.duplicate(f"spec.ports[{i}].nodePort", port.node_port))
            node_ports.add((port.protocol, port.node_port))
        key = (port.protocol, port.port)
        if key in ports:
            found.append(errors.duplicate(f"spec.ports[{i}]",
                                          {"port": port.port, "protocol": port.protocol}))
        ports.add(key)
    found.extend(_traffic_policies(spec))
    return found


def _traffic_policies(spec: core_pb2.ServiceSpec) -> list[FieldError]:
    found: list[FieldError] = []
    if not externally_accessible(spec):
        if spec.external_traffic_policy:
            found.append(errors.invalid("spec.externalTrafficPolicy", spec.external_traffic_policy,
                                        "may only be set for externally-accessible services"))
    else:
        found.extend(common.supported("spec.externalTrafficPolicy", spec.external_traffic_policy,
                                      TRAFFIC_POLICIES))
    if not spec.HasField("internal_traffic_policy"):
        if spec.type in ("NodePort", "LoadBalancer", "ClusterIP"):
            found.append(errors.required("spec.internalTrafficPolicy"))
    elif spec.internal_traffic_policy not in TRAFFIC_POLICIES:
        found.append(errors.unsupported("spec.internalTrafficPolicy", spec.internal_traffic_policy,
                                        TRAFFIC_POLICIES))
    return found


def validate_service_update(new: core_pb2.Service, old: core_pb2.Service) -> list[FieldError]:
    """A cluster IP, once allocated, stays (unless the service becomes or was ExternalName)."""
    if "ExternalName" in (new.spec.type, old.spec.type):
        return []
    if is_headless(new) and is_headless(old):
        return []
    was, now = list(old.spec.cluster_ips), list(new.spec.cluster_ips)
    if not was:
        return []
    if not now:
        return [errors.invalid("spec.clusterIPs[0]", now, "primary clusterIP can not be unset")]
    if now[0] != was[0]:
        return [errors.invalid("spec.clusterIPs[0]", now, "may not change once set")]
    return []


def _endpoint_address(address: core_pb2.EndpointAddress, path: str) -> list[FieldError]:
    found = common.invalid_each(f"{path}.ip", address.ip, common.ip_problems(address.ip))
    if address.hostname:
        found.extend(common.dns_label(f"{path}.hostname", address.hostname))
    if address.HasField("node_name"):
        found.extend(common.invalid_each(f"{path}.nodeName", address.node_name,
                                         dns1123_subdomain_problems(address.node_name)))
    if not common.ip_problems(address.ip):
        found.extend(_special_ip(address.ip, f"{path}.ip"))
    return found


def _special_ip(value: str, path: str) -> list[FieldError]:
    ip: Any = ipaddress.ip_address(value)
    if ip.is_unspecified:
        return [errors.invalid(path, value, f"may not be unspecified ({value})")]
    if ip.is_loopback:
        return [errors.invalid(path, value,
                               "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    if ip.is_link_local:
        return [errors.invalid(path, value,
                               "may not be in the link-local range (169.254.0.0/16, fe80::/10)")]
    return []


def validate_endpoints(endpoints: core_pb2.Endpoints) -> list[FieldError]:
    found: list[FieldError] = []
    for i, subset in enumerate(endpoints.subsets):
        item = f"subsets[{i}]"
        if not subset.addresses and not subset.not_ready_addresses:
            found.append(errors.required(item, "must specify `addresses` or "
                                               "`notReadyAddresses`"))
        for j, address in enumerate(subset.addresses):
            found.extend(_endpoint_address(address, f"{item}.addresses[{j}]"))
        for j, address in enumerate(subset.not_ready_addresses):
            found.extend(_endpoint_address(address, f"{item}.notReadyAddresses[{j}]"))
        for j, port in enumerate(subset.ports):
            at = f"{item}.ports[{j}]"
            if len(subset.ports) > 1 and not port.name:
                found.append(errors.required(f"{at}.name"))
            elif port.name:
                found.extend(common.dns_label(f"{at}.name", port.name))
            found.extend(common.invalid_each(f"{at}.port", port.port,
                                             common.port_number_problems(port.port)))
            found.extend(common.supported(f"{at}.protocol", port.protocol, PROTOCOLS))
    return found
