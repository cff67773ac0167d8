"""Service and Endpoints tables."""

from __future__ import annotations

from typing import Any

from kemuctl.printers.table import AGE, NAME, Column, KindTable, format_labels
from kemuctl.timefmt import since

LOAD_BALANCER_WIDTH = 16


def service_type(service: Any) -> str:
    return str(service.spec.type or "ClusterIP")


def port_string(ports: Any) -> str:
    pieces = []
    for port in ports:
        protocol = port.protocol or "TCP"
        if port.node_port > 0:
            pieces.append(f"{port.port}:{port.node_port}/{protocol}")
        else:
            pieces.append(f"{port.port}/{protocol}")
    return ",".join(pieces)


def load_balancer_ips(service: Any, wide: bool) -> str:
    ingress = service.status.load_balancer.ingress
    text = ",".join(i.ip or i.hostname for i in ingress if i.ip or i.hostname)
    if not wide and len(text) > LOAD_BALANCER_WIDTH:
        text = text[:LOAD_BALANCER_WIDTH - 3] + "..."
    return text


def external_ip(service: Any, wide: bool) -> str:
    kind = service_type(service)
    external = list(service.spec.external_ips)
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        balancer = load_balancer_ips(service, wide)
        if external:
            return ",".join(([*balancer.split(",")] if balancer else []) + external)
        return balancer or "<pending>"
    if kind == "ExternalName":
        return str(service.spec.external_name)
    return "<unknown>"


def _cluster_ip(service: Any) -> str:
    if service.spec.cluster_ips:
        return str(service.spec.cluster_ips[0])
    return str(service.spec.cluster_ip or "<none>")


def _service_row_for(wide: bool) -> Any:
    def build(service: Any, now: float) -> list[str]:
        return [service.metadata.name, service_type(service), _cluster_ip(service),
                external_ip(service, wide), port_string(service.spec.ports) or "<none>",
                since(service.metadata.creation_timestamp, now),
                format_labels(service.spec.selector)]
    return build


_SERVICE_COLUMNS = (NAME, Column("Type"), Column("Cluster-IP"), Column("External-IP"),
                    Column("Port(s)"), AGE, Column("Selector", wide=True))
SERVICES = KindTable(_SERVICE_COLUMNS, _service_row_for(False))
SERVICES_WIDE = KindTable(_SERVICE_COLUMNS, _service_row_for(True))


def format_endpoints(endpoints: Any, port_names: set[str] | None = None) -> str:
    """``10.0.0.1:80,10.0.0.2:80 + 3 more...``, or ``<none>``."""
    if not endpoints.subsets:
        return "<none>"
    found: list[str] = []
    limit = 3
    more = False
    count = 0
    for subset in endpoints.subsets:
        if not subset.ports:
            count += len(subset.addresses)
            for address in subset.addresses:
                if len(found) == limit:
                    more = True
                    break
                found.append(address.ip)
            continue
        for port in subset.ports:
            if port_names is not None and port.name not in port_names:
                continue
            count += len(subset.addresses)
            for address in subset.addresses:
                if len(found) == limit:
                    more = True
                    break
                host = f"[{address.ip}]" if ":" in address.ip else address.ip
                found.append(f"{host}:{port.port}")
    text = ",".join(found)
    if more:
        return f"{text} + {count - limit} more..."
    return text or "<none>"


def _endpoints_row(endpoints: Any, now: float) -> list[str]:
    return [endpoints.metadata.name, format_endpoints(endpoints),
            since(endpoints.metadata.creation_timestamp, now)]


ENDPOINTS = KindTable((NAME, Column("Endpoints"), AGE), _endpoints_row)
