"""Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it.

Candidates compare-and-swap the Lease ``kube-system/kemu-controller-manager``. The holder renews
it every retry period; a candidate takes it over when the record has not changed for a whole
lease duration by its own clock (never trusting another machine's timestamps). A leader that
cannot renew within the renew deadline stops leading, and ``is_leader()`` turns false as soon as
the last successful renewal is older than that deadline, even before the loop notices. A renewal
counts from the moment its request started (the lease cannot have been written earlier), and
the renew deadline is shorter than the lease duration, so a leader's ``is_leader()`` is false
before any other candidate can see its lease expire; the controllers' writes are fenced on it
(``controlplane.leaderguard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from controlplane.metrics import IS_LEADER
from kemu.api.errors import ApiError, Code
from kemu.api.meta import now_rfc3339_micro
from kemu.client.interface import ApiClient, clone
from kemu.timing import Timing
from kemu.v1 import coordination_pb2

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kemu-controller-manager"


class LeaderElector:
    def __init__(self, client: ApiClient, identity: str, timing: Timing,
                 name: str = LEASE_NAME, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.identity = identity
        self.lease_duration = timing.leader_lease_duration
        self.renew_deadline = timing.leader_renew_deadline
        self.retry_period = timing.leader_retry_period
        self.name = name
        self.clock = clock
        self._observed_version = ""
        self._observed_at = 0.0
        self._renewed_at: float | None = None

    def is_leader(self) -> bool:
        return self._renewed_at is not None and \
            self.clock() - self._renewed_at < self.renew_deadline

    def _record(self, lease: coordination_pb2.Lease, now_text: str, taking_over: bool) -> None:
        spec = lease.spec
        if taking_over:
            spec.acquire_time = now_text
            spec.lease_transitions = (spec.lease_transitions if spec.HasField("lease_transitions")
                                      else 0) + (1 if spec.holder_identity else 0)
        spec.holder_identity = self.identity
        spec.lease_duration_seconds = max(1, math.ceil(self.lease_duration))
        spec.renew_time = now_text

    async def try_acquire_or_renew(self) -> bool:
        now_text = now_rfc3339_micro()
        try:
            lease = await self.client.get(coordination_pb2.Lease, self.name, LEASE_NAMESPACE)
        except ApiError as exc:
            if exc.code != Code.NOT_FOUND:
                raise
            fresh = coordination_pb2.Lease()
            fresh.metadata.name = self.name
            fresh.metadata.namespace = LEASE_NAMESPACE
            self._record(fresh, now_text, taking_over=True)
            fresh.spec.lease_transitions = 0
            try:
                created = await self.client.create(fresh)
            except ApiError as create_error:
                if create_error.code == Code.ALREADY_EXISTS:
                    return False
                raise
            self._observe(created)
            return True
        if lease.metadata.resource_version != self._observed_version:
            self._observe(lease)
        holder = lease.spec.holder_identity if lease.spec.HasField("holder_identity") else ""
        mine = holder == self.identity
        expired = self.clock() - self._observed_at > self.lease_duration
        if not mine and holder and not expired:
            return False
        updated = clone(lease)
        self._record(updated, now_text, taking_over=not mine)
        try:
            written = await self.client.update(updated)
        except ApiError as exc:
            if exc.code in (Code.ABORTED, Code.NOT_FOUND):
                return False
            raise
        self._observe(written)
        return True

    def _observe(self, lease: coordination_pb2.Lease) -> None:
        self._observed_version = lease.metadata.resource_version
        self._observed_at = self.clock()

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Campaign forever; run ``lead()`` while leading and cancel it when leadership ends."""
        while True:
            await self._acquire()
            log.info("%s became the leader", self.identity)
            IS_LEADER.set(1)
            leading = asyncio.create_task(lead(), name="leading")
            try:
                await self._renew_until_lost(leading)
            finally:
                IS_LEADER.set(0)
                leading.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await leading
                self._renewed_at = None
            log.warning("%s stopped leading", self.identity)

    async def _acquire(self) -> None:
        while True:
            try:
                # Leadership counts from before the request: the lease was written no earlier.
                started = self.clock()
                if await self.try_acquire_or_renew():
                    self._renewed_at = started
                    return
            except Exception as exc:
                log.debug("leader election attempt failed: %r", exc)
            await asyncio.sleep(self.retry_period)

    async def _renew_until_lost(self, leading: asyncio.Task[None]) -> None:
        while not leading.done():
            await asyncio.sleep(self.retry_period)
            try:
                started = self.clock()
                if await self.try_acquire_or_renew():
                    self._renewed_at = started
                    continue
                log.warning("lost the leader lease to another candidate")
                return
            except Exception as exc:
                log.warning("renewing the leader lease failed: %r", exc)
            if not self.is_leader():
                return

    async def release(self) -> None:
        """Give the lease up so another candidate takes over at once."""
        if self._renewed_at is None:
            return
        with contextlib.suppress(Exception):
            lease = await self.client.get(coordination_pb2.Lease, self.name, LEASE_NAMESPACE)
            if lease.spec.holder_identity == self.identity:
                released = clone(lease)
                released.spec.holder_identity = ""
                released.spec.lease_duration_seconds = 1
                await self.client.update(released)
        self._renewed_at = None
