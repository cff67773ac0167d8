"""The ``kemu.v1.NodeAgent`` gRPC service: what kubelet processes call.

Every request names its node, and a node may only touch itself and the pods bound to it (as
Kubernetes' NodeRestriction admission enforces); anything else is PermissionDenied.

What the service adds to plain writes:
- Register creates the Node (allocating a /24 pod CIDR) or takes an existing one over, keeping
  its labels, taints and spec; condition transition times survive an unchanged status.
- RenewLease answers NotFound when the Node is gone, so a kubelet notices and registers again.
- WatchPods without a resourceVersion lists first and marks the end of that list with a
  BOOKMARK, so a kubelet knows which pods exist (and which it runs that no longer do).
- UpdatePodStatus replaces what the kubelet owns and keeps other writers' conditions. The
  pod version it writes is not sent back on that node's WatchPods: the kubelet has it already,
  as the call's answer (one message per pod fewer each way).
- RecordEvent of an Event whose name exists already counts a repeat (count, lastTimestamp).
  RecordEvents does the same for up to MAX_EVENTS_PER_CALL events, each recorded or refused
  on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Any

from controlplane.apiserver.api import Api
from controlplane.apiserver.objects import clone
from controlplane.apiserver.registry import DeleteOptions
from controlplane.apiserver.service import abort, bookmark, stream_events, unary
from controlplane.apiserver.watchcache import CacheEvent, Filter
from kemu.api import errors, kinds
from kemu.api.fields import FieldRequirement, FieldSelector
from kemu.api.meta import now_rfc3339, now_rfc3339_micro
from kemu.client.nodeagent import MAX_EVENTS_PER_CALL
from kemu.client.status import to_status
from kemu.v1 import api_pb2, api_pb2_grpc, coordination_pb2, core_pb2

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
# 1024 nodes of /24 each: 10.244.0.0/24 ... 10.247.255.0/24.
POD_CIDR_RANGE = ipaddress.ip_network("10.244.0.0/14")
# Labels the kubelet owns and resets at every registration; all others belong to the API.
KUBELET_OWNED_LABELS = ("kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
                        "beta.kubernetes.io/os", "beta.kubernetes.io/arch")
# Pod conditions the kubelet owns; a status update keeps every other one as stored.
KUBELET_POD_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                          "PodScheduled")
# Revisions of a node's own status writes remembered while its pod watch is down (at most).
MAX_OWN_WRITES_PER_NODE = 1024


class OwnStatusWrites:
    """The pod versions each node's own UpdatePodStatus calls wrote, by etcd revision.

    A revision names one write, so a watch event with a remembered revision is exactly the
    version that call returned, and the node's watch leaves it out. A call registers before it
    writes, and a watch that meets a change of that pod meanwhile waits for the call to finish,
    so which events are left out does not depend on whether the watch or the call's answer came
    first. The watch sends events in revision order, so a remembered revision it has passed
    will not come again and is forgotten.
    """

    def __init__(self, per_node: int = MAX_OWN_WRITES_PER_NODE):
        self._per_node = per_node
        self._written: dict[str, OrderedDict[int, None]] = {}
        self._writing: dict[tuple[str, str, str], list[asyncio.Future[None]]] = {}

    @contextlib.contextmanager
    def writing(self, node_name: str, namespace: str, name: str) -> Iterator[None]:
        """Around one status update of the pod ``namespace/name`` by ``node_name``."""
        key = (node_name, namespace, name)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writing.setdefault(key, []).append(done)
        try:
            yield
        finally:
            waiting = self._writing[key]
            waiting.remove(done)
            if not waiting:
                del self._writing[key]
            done.set_result(None)

    def wrote(self, node_name: str, revision: int) -> None:
        revisions = self._written.setdefault(node_name, OrderedDict())
        revisions[revision] = None
        while len(revisions) > self._per_node:
            revisions.popitem(last=False)

    async def take(self, node_name: str, event: CacheEvent) -> bool:
        """Whether ``event`` is a version ``node_name`` wrote itself (then forgotten)."""
        if event.type != "MODIFIED":
            return False
        meta = event.obj.metadata
        waiting = self._writing.get((node_name, meta.namespace, meta.name))
        if waiting:
            await asyncio.wait(list(waiting))
        revisions = self._written.get(node_name)
        if not revisions:
            return False
        while revisions and next(iter(revisions)) < event.revision:
            revisions.popitem(last=False)
        mine = event.revision in revisions
        if mine:
            del revisions[event.revision]
        if not revisions:
            # Nothing left to leave out: no entry stays behind for every node ever seen.
            del self._written[node_name]
        return mine

    def remembering(self) -> set[str]:
        """The nodes with written versions their watch has not passed yet."""
        return set(self._written)


def _require_node(name: str) -> None:
    if not name:
        raise errors.invalid_error("Node", name, [errors.required("nodeName")])


def _bound_here(pod: core_pb2.Pod, node_name: str) -> None:
    if pod.spec.node_name != node_name:
        bound = pod.spec.node_name or "no node"
        raise errors.forbidden_error(
            f'node "{node_name}" cannot act on pod {pod.metadata.namespace}/{pod.metadata.name}: '
            f"it is bound to {bound!r}, not to this node")


class NodeAgentService(api_pb2_grpc.NodeAgentServicer):
    def __init__(self, api: Api):
        self.api = api
        self.nodes = api.registry("Node")
        self.pods = api.registry("Pod")
        self.leases = api.registry("Lease")
        self._cidr_lock = asyncio.Lock()
        # CIDRs this process handed out that the watch cache may not show yet.
        self._recent: set[str] = set()
        self._own_writes = OwnStatusWrites()

    async def _allocate_cidr(self) -> str:
        used = {n.spec.pod_cidr for n in self.api.cache.by_kind["Node"].objects.values()}
        self._recent -= used
        used |= self._recent
        for subnet in POD_CIDR_RANGE.subnets(new_prefix=24):
            if str(subnet) not in used:
                self._recent.add(str(subnet))
                return str(subnet)
        raise errors.ApiError(errors.Code.RESOURCE_EXHAUSTED, "Exhausted",
                              f"no pod CIDR is left in {POD_CIDR_RANGE}")

    async def _node(self, name: str) -> core_pb2.Node:
        """The Node from the watch cache, else from storage (raises NotFound)."""
        cached = self.api.cache.get(self.nodes.kind, self.nodes.key("", name))
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        node: core_pb2.Node = await self.nodes.get("", name)
        return node

    @unary
    async def Register(self, request: api_pb2.RegisterNodeRequest, context: Any) -> core_pb2.Node:
        wanted = request.node
        name = wanted.metadata.name
        _require_node(name)
        async with self._cidr_lock:
            try:
                existing = await self.nodes.get("", name)
            except errors.ApiError as exc:
                if exc.code != errors.Code.NOT_FOUND:
                    raise
                existing = None
            if existing is None:
                node = clone(wanted)
                node.spec.pod_cidr = node.spec.pod_cidr or await self._allocate_cidr()
                node.spec.pod_cidrs[:] = [node.spec.pod_cidr]
                await self.nodes.create(node)
            else:
                cidr = existing.spec.pod_cidr or await self._allocate_cidr()

                def take_over(node: core_pb2.Node) -> core_pb2.Node:
                    # Labels set through the API survive; the kubelet's own ones are reset.
                    for key in KUBELET_OWNED_LABELS:
                        if key in wanted.metadata.labels:
                            node.metadata.labels[key] = wanted.metadata.labels[key]
                    node.spec.pod_cidr = cidr
                    node.spec.pod_cidrs[:] = [cidr]
                    return node

                await self.nodes.guaranteed_update("", name, take_over)
        result: core_pb2.Node = await self._set_status(name, wanted.status)
        return result

    async def _set_status(self, name: str, status: core_pb2.NodeStatus) -> Any:
        def replace(node: core_pb2.Node) -> core_pb2.Node:
            before = {c.type: c for c in node.status.conditions}
            new = core_pb2.NodeStatus()
            new.CopyFrom(status)
            now = now_rfc3339()
            for condition in new.conditions:
                old = before.get(condition.type)
                if old is None:
                    continue
                if old.status == condition.status and old.last_transition_time:
                    condition.last_transition_time = old.last_transition_time
                elif old.status != condition.status:
                    # E.g. Unknown (set by the node lifecycle controller) -> True.
                    condition.last_transition_time = now
            node.status.CopyFrom(new)
            return node

        return await self.nodes.guaranteed_update("", name, replace, status=True)

    @unary
    async def RenewLease(self, request: api_pb2.RenewLeaseRequest,
                         context: Any) -> coordination_pb2.Lease:
        name = request.node_name
        _require_node(name)
        now = now_rfc3339_micro()
        node = await self._node(name)

        def renew(lease: coordination_pb2.Lease) -> coordination_pb2.Lease:
            lease.spec.holder_identity = name
            lease.spec.lease_duration_seconds = request.lease_duration_seconds
            lease.spec.renew_time = now
            del lease.metadata.owner_references[:]
            lease.metadata.owner_references.add(api_version="v1", kind="Node", name=name,
                                                uid=node.metadata.uid)
            return lease

        try:
            result: coordination_pb2.Lease = await self.leases.guaranteed_update(
                NODE_LEASE_NAMESPACE, name, renew)
            return result
        except errors.ApiError as exc:
            if exc.code != errors.Code.NOT_FOUND:
                raise
        lease = coordination_pb2.Lease()
        lease.metadata.name = name
        lease.metadata.namespace = NODE_LEASE_NAMESPACE
        renew(lease)
        lease.spec.acquire_time = now
        created: coordination_pb2.Lease = await self.leases.create(lease)
        return created

    @unary
    async def UpdateNodeStatus(self, request: api_pb2.UpdateNodeStatusRequest,
                               context: Any) -> core_pb2.Node:
        _require_node(request.node_name)
        result: core_pb2.Node = await self._set_status(request.node_name, request.status)
        return result

    async def WatchPods(self, request: api_pb2.WatchPodsRequest,
                        context: Any) -> AsyncIterator[api_pb2.WatchEvent]:
        try:
            _require_node(request.node_name)
            flt = Filter(fields=FieldSelector((FieldRequirement("spec.nodeName",
                                                                request.node_name, False),)))
            version = request.resource_version
            if not version:
                pods, revision = await self.pods.list(flt)
                for pod in pods:
                    yield api_pb2.WatchEvent(type="ADDED", object=kinds.wrap(pod))
                # The end of the initial list (Kubernetes' "initial-events-end" bookmark).
                yield bookmark(self.pods.kind, revision)
                version = str(revision)
            node_name = request.node_name
            async for event in stream_events(
                    self.pods, flt, version, True,
                    lambda e: self._own_writes.take(node_name, e)):
                yield event
        except Exception as exc:
            await abort(context, exc)

    @unary
    async def UpdatePodStatus(self, request: api_pb2.UpdatePodStatusRequest,
                              context: Any) -> core_pb2.Pod:
        _require_node(request.node_name)
        # The version the last attempt started from: the answer differs from it only if that
        # attempt wrote (an unchanged status, or one the strategy made equal, writes nothing).
        started_from = ""

        def report(pod: core_pb2.Pod) -> core_pb2.Pod | None:
            nonlocal started_from
            started_from = pod.metadata.resource_version
            _bound_here(pod, request.node_name)
            if request.uid and pod.metadata.uid != request.uid:
                raise errors.conflict_error("pods", pod.metadata.name,
                                            "the pod was replaced (UID differs)")
            status = clone(request.status)
            sent = {c.type for c in status.conditions}
            others = [c for c in pod.status.conditions
                      if c.type not in KUBELET_POD_CONDITIONS and c.type not in sent]
            if others:
                mine = list(status.conditions)
                del status.conditions[:]
                status.conditions.extend([*others, *mine])
            status.nominated_node_name = status.nominated_node_name or \
                pod.status.nominated_node_name
            if pod.status == status:
                return None
            pod.status.CopyFrom(status)
            return pod

        with self._own_writes.writing(request.node_name, request.namespace, request.name):
            result: core_pb2.Pod = await self.pods.guaranteed_update(
                request.namespace, request.name, report, status=True)
            if result.metadata.resource_version != started_from:
                self._own_writes.wrote(request.node_name, int(result.metadata.resource_version))
        return result

    @unary
    async def RemovePod(self, request: api_pb2.RemovePodRequest,
                        context: Any) -> api_pb2.RemovePodResponse:
        _require_node(request.node_name)
        pod = await self.pods.get(request.namespace, request.name)
        _bound_here(pod, request.node_name)
        await self.pods.delete(request.namespace, request.name,
                               DeleteOptions(grace_period_seconds=0,
                                             precondition_uid=request.uid or pod.metadata.uid))
        return api_pb2.RemovePodResponse()

    @unary
    async def RecordEvent(self, request: api_pb2.RecordEventRequest,
                          context: Any) -> api_pb2.RecordEventResponse:
        _require_node(request.node_name)
        await self._record(request.node_name, request.event)
        return api_pb2.RecordEventResponse()

    @unary
    async def RecordEvents(self, request: api_pb2.RecordEventsRequest,
                           context: Any) -> api_pb2.RecordEventsResponse:
        _require_node(request.node_name)
        if len(request.events) > MAX_EVENTS_PER_CALL:
            raise errors.invalid_error("RecordEventsRequest", request.node_name, [errors.too_many(
                "events", len(request.events), MAX_EVENTS_PER_CALL)])
        # Concurrently, so a full batch takes about as long as its slowest write rather than
        # the sum of a hundred, well within the kubelet's call deadline.
        outcomes = await asyncio.gather(
            *(self._record(request.node_name, event) for event in request.events),
            return_exceptions=True)
        response = api_pb2.RecordEventsResponse()
        for outcome in outcomes:
            if isinstance(outcome, errors.ApiError):
                response.results.append(to_status(outcome))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                response.results.add(code=0)
        return response

    async def _record(self, node_name: str, sent: core_pb2.Event) -> None:
        event = clone(sent)
        event.source.component = "kubelet"
        event.source.host = node_name
        if not event.metadata.name and not event.metadata.generate_name:
            # Named as client-go names events; a generateName ending in "." would be invalid.
            about = event.involved_object.name or node_name
            event.metadata.name = f"{about}.{time.time_ns():x}"
        if not event.first_timestamp:
            event.first_timestamp = event.last_timestamp = now_rfc3339()
        event.last_timestamp = event.last_timestamp or now_rfc3339()
        event.count = event.count or 1
        registry = self.api.registry(kinds.by_name("Event"))
        try:
            await registry.create(event)
        except errors.ApiError as exc:
            if exc.code != errors.Code.ALREADY_EXISTS or not event.metadata.name:
                raise

            def repeat(stored: core_pb2.Event) -> core_pb2.Event | None:
                if stored.count >= event.count and stored.last_timestamp >= event.last_timestamp:
                    return None
                stored.count = max(stored.count, event.count)
                stored.last_timestamp = max(stored.last_timestamp, event.last_timestamp)
                stored.message = event.message
                return stored

            await registry.guaranteed_update(event.metadata.namespace or "default",
                                             event.metadata.name, repeat)
