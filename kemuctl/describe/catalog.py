"""Which describer each kind uses, and the related objects it needs (events, pods, replica sets,
endpoints, the node lease), fetched through the API."""

from __future__ import annotations

import time
from typing import Any

from kemu.api import kinds, labels
from kemu.api.errors import ApiError
from kemu.api.kinds import Kind
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import apps_pb2, coordination_pb2, core_pb2
from kemuctl.describe import misc, nodes, pods, workloads
from kemuctl.rollout.deployments import equal_ignore_hash, replica_sets_of

NODE_LEASE_NAMESPACE = "kube-node-lease"


async def search_events(client: GrpcClient, obj: Any, kind: Kind | None,
                        uid: str | None = None) -> list[Any]:
    """Events whose involvedObject is ``obj`` (kubectl's searchEvents)."""
    meta = obj.metadata
    terms = [f"involvedObject.name={meta.name}", f"involvedObject.uid={uid or meta.uid}"]
    if meta.namespace:
        terms.append(f"involvedObject.namespace={meta.namespace}")
    if kind is not None:
        terms.append(f"involvedObject.kind={kind.name}")
    result = await client.list(core_pb2.Event, meta.namespace, field_selector=",".join(terms))
    return list(result.items)


async def _pods_selected(client: GrpcClient, namespace: str, selector: str) -> list[Any]:
    result = await client.list(core_pb2.Pod, namespace, label_selector=selector)
    return list(result.items)


async def _counts(client: GrpcClient, obj: Any, selector: str) -> workloads.PodCounts:
    found = await _pods_selected(client, obj.metadata.namespace, selector)
    return workloads.count_pods(found, obj.metadata.uid)


async def describe_object(client: GrpcClient, kind: Kind, obj: Any, show_events: bool = True
                          ) -> str:
    now = time.time()
    name = kind.name
    events = await search_events(client, obj, None if name == "Pod" else kind) \
        if show_events else None
    if name == "Pod":
        return pods.describe_pod(obj, events, now)
    if name == "Node":
        return await _describe_node(client, obj, show_events, now)
    if name in ("ReplicaSet", "DaemonSet", "StatefulSet"):
        selector = str(labels.from_label_selector(obj.spec.selector))
        counts = await _counts(client, obj, selector)
        describe = {"ReplicaSet": workloads.describe_replica_set,
                    "DaemonSet": workloads.describe_daemon_set,
                    "StatefulSet": workloads.describe_stateful_set}[name]
        return describe(obj, counts, events, now)
    if name == "ReplicationController":
        counts = await _counts(client, obj, str(labels.from_labels(obj.spec.selector)))
        return workloads.describe_replication_controller(obj, counts, events, now)
    if name == "Deployment":
        return await _describe_deployment(client, obj, events, now)
    if name == "Job":
        return workloads.describe_job(obj, events, now)
    if name == "CronJob":
        return workloads.describe_cron_job(obj, events, now)
    if name == "Service":
        endpoints = None
        try:
            endpoints = await client.get(core_pb2.Endpoints, obj.metadata.name,
                                         obj.metadata.namespace)
        except ApiError:
            endpoints = None
        return misc.describe_service(obj, endpoints, events, now)
    if name == "Endpoints":
        return misc.describe_endpoints(obj, events, now)
    if name == "Namespace":
        return misc.describe_namespace(obj)
    if name == "ConfigMap":
        return misc.describe_config_map(obj, events, now)
    if name == "PersistentVolumeClaim":
        users = await _pvc_users(client, obj)
        return misc.describe_pvc(obj, users, events, now)
    return misc.describe_generic(obj, events, now)


async def _describe_node(client: GrpcClient, node: Any, show_events: bool, now: float) -> str:
    name = node.metadata.name
    running = await client.list(core_pb2.Pod, "", field_selector=(
        f"spec.nodeName={name},status.phase!=Succeeded,status.phase!=Failed"))
    lease: Any | None = None
    lease_error = ""
    try:
        lease = await client.get(coordination_pb2.Lease, name, NODE_LEASE_NAMESPACE)
    except ApiError as exc:
        lease_error = exc.message
    events: list[Any] | None = None
    if show_events:
        node_kind = kinds.by_name("Node")
        events = await search_events(client, node, node_kind)
        if node.metadata.uid != name:
            events += await search_events(client, node, node_kind, uid=name)
    pods_on_node = sorted(running.items, key=lambda p: (p.metadata.namespace, p.metadata.name))
    return nodes.describe_node(node, pods_on_node, lease, lease_error, events, now)


async def _describe_deployment(client: GrpcClient, deploy: apps_pb2.Deployment,
                               events: list[Any] | None, now: float) -> str:
    owned = sorted(await replica_sets_of(client, deploy),
                   key=lambda rs: (rs.metadata.creation_timestamp, rs.metadata.name))
    new = next((rs for rs in owned if equal_ignore_hash(rs.spec.template, deploy.spec.template)),
               None)
    old = [rs for rs in owned if rs is not new]
    return workloads.describe_deployment(deploy, old, [new] if new else [], events, now)


async def _pvc_users(client: GrpcClient, pvc: Any) -> list[str]:
    result = await client.list(core_pb2.Pod, pvc.metadata.namespace)
    users = []
    for pod in result.items:
        if any(v.HasField("persistent_volume_claim") and
               v.persistent_volume_claim.claim_name == pvc.metadata.name for v in pod.spec.volumes):
            users.append(pod.metadata.name)
    return users
