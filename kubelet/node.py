"""The Node this kubelet registers and the NodeStatus it reports.

Labels, capacity, conditions, addresses and nodeInfo look as a real kubelet's do; the
InternalIP is fake but stable: derived from the node's pod CIDR unless ``--node-ip`` is given.
"""

from __future__ import annotations

import ipaddress
import os
import uuid
from dataclasses import dataclass

from kemu.api.meta import now_rfc3339
from kemu.v1 import core_pb2, meta_pb2
from kubelet.config import KubeletConfig

KUBELET_VERSION = "v1.32.0-kemu"
RUNTIME_VERSION = "kemu://0.1.0"
KUBELET_PORT = 10250
_MACHINE_NAMESPACE = uuid.UUID("6f0f8a56-2f4e-4c1e-9a43-8d1f5c6b7e21")

# (type, reason, message) of the healthy conditions, in the kubelet's order.
HEALTHY_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
         "armv7l": "arm", "armv6l": "arm", "ppc64le": "ppc64le", "s390x": "s390x",
         "i686": "386", "i386": "386", "riscv64": "riscv64"}


def go_arch(machine: str | None = None) -> str:
    """The platform's architecture as Go (and Kubernetes) names it: amd64, arm64 ..."""
    machine = machine or os.uname().machine
    return _ARCH.get(machine.lower(), machine.lower())


def _os_image() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as release:
            for line in release:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


@dataclass(frozen=True)
class NodeIdentity:
    """What stays the same for the life of this process."""

    name: str
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str
    architecture: str

    @classmethod
    def of(cls, name: str) -> NodeIdentity:
        stable = uuid.uuid5(_MACHINE_NAMESPACE, name)
        return cls(name=name, machine_id=stable.hex,
                   system_uuid=str(uuid.uuid5(stable, "system")),
                   boot_id=str(uuid.uuid4()), kernel_version=os.uname().release,
                   os_image=_os_image(), architecture=go_arch())


def node_ip_from_cidr(pod_cidr: str) -> str:
    """A fake InternalIP unique per pod CIDR: 10.B.C.0/24 -> 172.(16 + B % 16).C.1."""
    network = ipaddress.ip_network(pod_cidr, strict=False)
    octets = network.network_address.packed
    if network.version != 4:
        return str(network.network_address + 1)
    return f"172.{16 + octets[1] % 16}.{octets[2]}.1"


def default_labels(identity: NodeIdentity) -> dict[str, str]:
    return {
        "kubernetes.io/hostname": identity.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": identity.architecture,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": identity.architecture,
    }


def build_node(config: KubeletConfig, identity: NodeIdentity,
               status: core_pb2.NodeStatus) -> core_pb2.Node:
    """The Node to register: its labels and, for a new Node, its taints (--register-with-taints)."""
    node = core_pb2.Node(api_version="v1", kind="Node")
    node.metadata.name = identity.name
    node.metadata.labels.update(config.labels)
    node.metadata.labels.update(default_labels(identity))
    for taint in config.taints:
        node.spec.taints.add().CopyFrom(taint)
    node.status.CopyFrom(status)
    return node


def build_status(config: KubeletConfig, identity: NodeIdentity, node_ip: str, wall: float,
                 previous: core_pb2.NodeStatus | None = None) -> core_pb2.NodeStatus:
    """The current NodeStatus; conditions keep ``previous``'s transition times when unchanged."""
    stamp = now_rfc3339(wall)
    status = core_pb2.NodeStatus()
    for name, value in config.capacity.items():
        status.capacity[name].CopyFrom(meta_pb2.Quantity(value=value))
        status.allocatable[name].CopyFrom(meta_pb2.Quantity(value=value))
    old = {c.type: c for c in previous.conditions} if previous is not None else {}
    for kind, value, reason, message in HEALTHY_CONDITIONS:
        before = old.get(kind)
        since = before.last_transition_time if before is not None and before.status == value \
            else stamp
        status.conditions.add(type=kind, status=value, reason=reason, message=message,
                              last_heartbeat_time=stamp, last_transition_time=since)
    if node_ip:
        status.addresses.add(type="InternalIP", address=node_ip)
    status.addresses.add(type="Hostname", address=identity.name)
    status.daemon_endpoints.kubelet_endpoint.port = KUBELET_PORT
    info = status.node_info
    info.machine_id = identity.machine_id
    info.system_uuid = identity.system_uuid
    info.boot_id = identity.boot_id
    info.kernel_version = identity.kernel_version
    info.os_image = identity.os_image
    info.container_runtime_version = RUNTIME_VERSION
    info.kubelet_version = KUBELET_VERSION
    info.operating_system = "linux"
    info.architecture = identity.architecture
    return status


def without_heartbeats(status: core_pb2.NodeStatus) -> core_pb2.NodeStatus:
    """``status`` with heartbeat times blanked: what "the status changed" compares."""
    copy = core_pb2.NodeStatus()
    copy.CopyFrom(status)
    for condition in copy.conditions:
        condition.last_heartbeat_time = ""
    return copy
