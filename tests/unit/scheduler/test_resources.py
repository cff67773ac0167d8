"""A pod's effective request (init-container rule, sidecars, limits as requests) and a node's
allocatable, in the units the scheduler compares."""

from __future__ import annotations

import pytest

from controlplane.scheduler.resources import (
    host_ports,
    node_allocatable,
    non_zero_requests,
    pod_request_amounts,
    pod_requests,
)
from kemu.v1 import core_pb2
from tests.unit.scheduler.objects import make_node, make_pod

pytestmark = pytest.mark.unit


def _container(pod: core_pb2.Pod, name: str, cpu: str = "", memory: str = "", *,
               init: bool = False, sidecar: bool = False) -> core_pb2.Container:
    container = (pod.spec.init_containers if init else pod.spec.containers).add(name=name)
    if cpu:
        container.resources.requests["cpu"].value = cpu
    if memory:
        container.resources.requests["memory"].value = memory
    if sidecar:
        container.restart_policy = "Always"
    return container


def test_containers_add_up() -> None:
    pod = make_pod(cpu="250m", memory="64Mi")
    _container(pod, "second", "1", "1Gi")
    requests = pod_requests(pod)
    assert (requests.milli_cpu, requests.memory) == (1250, 64 * 2**20 + 2**30)


def test_largest_init_container_wins_when_larger_than_the_sum() -> None:
    pod = make_pod(cpu="500m", memory="100Mi")
    _container(pod, "setup", "2", "50Mi", init=True)
    _container(pod, "migrate", "1", "300Mi", init=True)
    requests = pod_requests(pod)
    assert requests.milli_cpu == 2000
    assert requests.memory == 300 * 2**20


def test_sidecars_add_to_the_pod_and_to_later_init_containers() -> None:
    pod = make_pod(cpu="500m")
    _container(pod, "proxy", "200m", init=True, sidecar=True)
    _container(pod, "setup", "1", init=True)
    # Running: 500m + 200m sidecar = 700m; during setup: 1 + 200m = 1200m.
    assert pod_requests(pod).milli_cpu == 1200
    pod.spec.init_containers[1].resources.requests["cpu"].value = "100m"
    assert pod_requests(pod).milli_cpu == 700


def test_limit_without_request_counts_as_request() -> None:
    pod = make_pod()
    pod.spec.containers[0].resources.limits["cpu"].value = "300m"
    pod.spec.containers[0].resources.requests["memory"].value = "1Gi"
    pod.spec.containers[0].resources.limits["memory"].value = "2Gi"
    assert pod_request_amounts(pod) == {"cpu": 300, "memory": 2**30}


def test_scoring_counts_missing_requests_as_defaults() -> None:
    pod = make_pod()
    assert non_zero_requests(pod) == (100, 200 * 2**20)
    assert non_zero_requests(make_pod(cpu="0", memory="1Gi")) == (0, 2**30)
    assert pod_requests(pod).is_zero()


def test_extended_resources_are_scalar() -> None:
    pod = make_pod(extra={"example.com/gpu": "2", "hugepages-2Mi": "4Mi"})
    assert pod_requests(pod).scalar == {"example.com/gpu": 2, "hugepages-2Mi": 4 * 2**20}


def test_node_allocatable_falls_back_to_capacity() -> None:
    node = make_node(cpu="3500m", memory="2Gi", pods="20", extra={"example.com/gpu": "1"})
    allocatable = node_allocatable(node)
    assert (allocatable.milli_cpu, allocatable.memory, allocatable.allowed_pods) == \
        (3500, 2**31, 20)
    assert allocatable.scalar == {"example.com/gpu": 1}
    node.status.ClearField("allocatable")
    assert node_allocatable(node).milli_cpu == 3500


def test_host_ports_default_address_and_protocol() -> None:
    pod = make_pod(host_ports=[8080])
    pod.spec.containers[0].ports.add(container_port=53, host_port=53, protocol="UDP",
                                     host_ip="10.0.0.1")
    pod.spec.containers[0].ports.add(container_port=9000)
    assert host_ports(pod) == [("0.0.0.0", "TCP", 8080), ("10.0.0.1", "UDP", 53)]
