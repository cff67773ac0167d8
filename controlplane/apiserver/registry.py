"""Storage-backed API operations for one kind: the Kubernetes verbs over etcd.

Every write is a compare-and-swap on the key's revision: an update names the resourceVersion it
read, and a stale one is a Conflict, never a silent overwrite. Server-side read-modify-write
operations (patch, bind, delete's bookkeeping) loop on conflicts against the latest object, so
they never lose another writer's change either. Their first attempt starts from the watch
cache's copy, or from this process's own later write of the object while the cache has not
shown it yet (one etcd round trip instead of two when that copy is current, as it nearly always
is); any doubt about that copy sends them back to a read from etcd.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from controlplane.apiserver import keys, patching
from controlplane.apiserver.objects import (
    check_size,
    clone,
    decode_object,
    encode_object,
    random_suffix,
)
from controlplane.apiserver.strategy import Strategy
from controlplane.apiserver.watchcache import CacheEvent, EventBatch, Filter, WatchCache
from controlplane.storage import (
    ConflictError,
    KeyExistsError,
    KeyNotFoundError,
    Store,
    StoreUnavailableError,
)
from kemu.api import codec, errors
from kemu.api.errors import ApiError, FieldError
from kemu.api.kinds import Kind
from kemu.api.meta import now_rfc3339

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
PROPAGATION_POLICIES = ("Background", "Foreground", "Orphan")
# generateName is cut to this length before the 5-character suffix, as Kubernetes does, so a
# generated name never exceeds 63 characters.
MAX_GENERATED_BASE = 58
_CONSISTENT_READ_WAIT = 3.0


class Admission(Protocol):
    """Checks and mutations that need more than the object itself (namespaces, other kinds)."""

    def mutate_create(self, kind: Kind, obj: Any) -> None: ...

    async def admit_create(self, kind: Kind, obj: Any) -> None: ...


@dataclass
class DeleteOptions:
    propagation_policy: str = ""
    grace_period_seconds: int | None = None
    precondition_uid: str = ""
    precondition_resource_version: str = ""
    dry_run: bool = False


Mutation = Callable[[Any], Any | None]


class Registry:
    def __init__(self, kind: Kind, strategy: Strategy, store: Store, cache: WatchCache,
                 admission: Admission, ttl_seconds: int | None = None):
        self.kind = kind
        self.strategy = strategy
        self.store = store
        self.cache = cache
        self.admission = admission
        self.ttl_seconds = ttl_seconds

    # -- helpers --------------------------------------------------------------------------
    def key(self, namespace: str, name: str) -> bytes:
        return keys.object_key(self.kind, namespace if self.kind.namespaced else "", name)

    def _not_found(self, name: str) -> ApiError:
        return errors.not_found_error(self.kind.qualified_plural, name)

    def _conflict(self, name: str) -> ApiError:
        return errors.conflict_error(
            self.kind.qualified_plural, name,
            "the object has been modified; please apply your changes to the latest version "
            "and try again")

    def _invalid(self, name: str, found: list[FieldError]) -> ApiError:
        return errors.invalid_error(self.kind.qualified_kind, name, found)

    def _stamp_type(self, obj: Any) -> None:
        obj.api_version = self.kind.api_version
        obj.kind = self.kind.name

    def _namespace_of(self, obj: Any, namespace: str = "") -> None:
        meta = obj.metadata
        if self.kind.namespaced:
            if namespace and meta.namespace and meta.namespace != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request")
            if not meta.namespace:
                meta.namespace = namespace or "default"

    async def _read(self, namespace: str, name: str) -> tuple[Any, int]:
        kv = await self.store.get(self.key(namespace, name))
        if kv is None:
            raise self._not_found(name)
        return decode_object(self.kind, kv.value, kv.mod_revision), kv.mod_revision

    async def _read_after(self, conflict: ApiError | None, namespace: str,
                          name: str) -> tuple[Any, int]:
        """The latest object for the next attempt of a read-modify-write. A failed
        compare-and-swap already returned what the key holds (the transaction's else branch,
        as Kubernetes' GuaranteedUpdate uses it), so only the first attempt reads etcd."""
        cause = conflict.__cause__ if conflict is not None else None
        if isinstance(cause, ConflictError) and cause.current is not None:
            kv = cause.current
            return decode_object(self.kind, kv.value, kv.mod_revision), kv.mod_revision
        return await self._read(namespace, name)

    # -- create ---------------------------------------------------------------------------
    async def create(self, obj: Any, dry_run: bool = False) -> Any:
        obj = clone(obj)
        self._stamp_type(obj)
        self._namespace_of(obj)
        meta = obj.metadata
        generated = not meta.name and bool(meta.generate_name)
        self.strategy.default(obj)
        # The UID and the name come before prepare_for_create: a Job's generated selector and
        # labels are made of them.
        meta.uid = str(uuid.uuid4())
        meta.creation_timestamp = now_rfc3339()
        meta.deletion_timestamp = ""
        meta.ClearField("deletion_grace_period_seconds")
        meta.resource_version = ""
        defaulted = obj
        for attempt in range(8):
            if generated:
                obj = clone(defaulted)
                meta = obj.metadata
                meta.name = meta.generate_name[:MAX_GENERATED_BASE] + random_suffix()
            self.strategy.prepare_for_create(obj)
            self.admission.mutate_create(self.kind, obj)
            found = self.strategy.validate(obj)
            if found:
                raise self._invalid(meta.name or meta.generate_name, found)
            await self.admission.admit_create(self.kind, obj)
            data = encode_object(obj)
            check_size(self.kind, obj, data)
            if dry_run:
                return obj
            try:
                kv = await self.store.create(self.key(meta.namespace, meta.name), data,
                                             self.ttl_seconds)
            except KeyExistsError:
                if generated and attempt < 7:
                    continue
                raise errors.already_exists_error(self.kind.qualified_plural, meta.name) from None
            self.cache.note_written(self.kind, kv.mod_revision)
            self.cache.remember_write(self.kind, kv.key, kv.mod_revision, data)
            meta.resource_version = str(kv.mod_revision)
            return obj
        raise AssertionError("unreachable")

    # -- read -----------------------------------------------------------------------------
    async def get(self, namespace: str, name: str) -> Any:
        obj, _ = await self._read(namespace, name)
        return obj

    async def list(self, flt: Filter) -> tuple[list[Any], int]:
        """A consistent list: served from the watch cache once it has caught up with etcd
        (from etcd for a kind the cache does not hold)."""
        if self.cache.holds(self.kind):
            revision = await self.store.current_revision()
            if await self.cache.catch_up(revision, _CONSISTENT_READ_WAIT):
                return self.cache.list(self.kind, flt)
        items, at = await self.store.list(keys.namespace_prefix(self.kind, flt.namespace))
        objects = [decode_object(self.kind, kv.value, kv.mod_revision) for kv in items]
        return [o for o in objects if flt.matches(self.kind, o)], at

    async def watch(self, flt: Filter, resource_version: str,
                    bookmarks: bool = False) -> AsyncIterator[CacheEvent]:
        async for batch in self.watch_batches(flt, resource_version, bookmarks):
            for event in batch:
                yield event

    def watch_batches(self, flt: Filter, resource_version: str,
                      bookmarks: bool = False) -> AsyncIterator[EventBatch]:
        """The watch's events, as many at a time as have arrived (WatchCache.watch_batches)."""
        if not self.cache.holds(self.kind):
            return self.cache.watch_direct(self.kind, flt, resource_version)
        return self.cache.watch_batches(self.kind, flt, resource_version, bookmarks)

    # -- update ---------------------------------------------------------------------------
    async def update(self, obj: Any, dry_run: bool = False, status: bool = False) -> Any:
        if status and not (self.strategy.has_status and self.kind.has_status):
            raise ApiError(errors.Code.NOT_FOUND, errors.Reason.NOT_FOUND.value,
                           f"the server could not find the requested resource "
                           f"({self.kind.plural}/status)")
        obj = clone(obj)
        self._stamp_type(obj)
        self._namespace_of(obj)
        meta = obj.metadata
        if not meta.resource_version:
            raise self._invalid(meta.name, [errors.invalid(
                "metadata.resourceVersion", 0, "must be specified for an update")])
        try:
            expected = int(meta.resource_version)
        except ValueError:
            raise self._invalid(meta.name, [errors.invalid(
                "metadata.resourceVersion", meta.resource_version,
                "must be an integer")]) from None
        cached = self.cache.latest(self.kind, self.key(meta.namespace, meta.name))
        cached_revision = int(cached.metadata.resource_version) if cached is not None else 0
        if cached_revision == expected:
            # The cache (or this process's own last write) holds exactly the version the
            # caller read: the same object etcd returns for that revision, and the
            # compare-and-swap below still guards it.
            old, revision = clone(cached), expected
        elif cached_revision > expected:
            # A later version was stored already (revisions only grow): the caller's is stale
            # whatever etcd holds now.
            raise self._conflict(meta.name)
        else:
            old, revision = await self._read(meta.namespace, meta.name)
        if revision != expected:
            raise self._conflict(meta.name)
        return await self._write_update(obj, old, revision, dry_run, status)

    async def _write_update(self, new: Any, old: Any, revision: int, dry_run: bool,
                            status: bool) -> Any:
        self._prepare_update(new, old, status)
        if new == old or dry_run:
            return new if dry_run else old
        return await self._store_update(new, revision)

    def _prepare_update(self, new: Any, old: Any, status: bool) -> None:
        """Strategy preparation and validation of ``new`` over ``old``; raises Invalid."""
        if status:
            self.strategy.prepare_for_status_update(new, old)
            found = self.strategy.validate_status_update(new, old)
        else:
            self.strategy.default(new)
            self._keep_server_fields(new, old)
            self.strategy.prepare_for_update(new, old)
            found = self.strategy.validate_update(new, old)
        if found:
            raise self._invalid(new.metadata.name, found)
        new.metadata.resource_version = old.metadata.resource_version

    @staticmethod
    def _keep_server_fields(new: Any, old: Any) -> None:
        meta, was = new.metadata, old.metadata
        meta.uid = was.uid
        meta.creation_timestamp = was.creation_timestamp
        meta.deletion_timestamp = was.deletion_timestamp
        if was.HasField("deletion_grace_period_seconds"):
            meta.deletion_grace_period_seconds = was.deletion_grace_period_seconds
        else:
            meta.ClearField("deletion_grace_period_seconds")

    async def _store_update(self, new: Any, revision: int) -> Any:
        meta = new.metadata
        key = self.key(meta.namespace, meta.name)
        finished = (meta.deletion_timestamp and not meta.finalizers
                    and meta.deletion_grace_period_seconds == 0
                    and not self.strategy.delete_deferred(new))
        try:
            if finished:
                kv = await self.store.delete(key, revision)
                self.cache.forget_write(self.kind, key)
            else:
                data = encode_object(new)
                check_size(self.kind, new, data)
                kv = await self.store.update(key, data, revision, self.ttl_seconds)
                self.cache.remember_write(self.kind, key, kv.mod_revision, data)
        except ConflictError as exc:
            # Chained, so a retry loop can start from the object the failed write found.
            raise self._conflict(meta.name) from exc
        except KeyNotFoundError:
            raise self._not_found(meta.name) from None
        self.cache.note_written(self.kind, kv.mod_revision)
        meta.resource_version = str(kv.mod_revision)
        return new

    async def guaranteed_update(self, namespace: str, name: str, mutate: Mutation, *,
                                status: bool = False, dry_run: bool = False) -> Any:
        """Read, apply ``mutate`` to a copy, write; on a conflict, again from the latest.

        ``mutate`` returns the new object, or None to leave the stored one as it is.
        """
        conflict: ApiError | None = None
        if not dry_run:
            written, conflict = await self._update_cached(namespace, name, mutate, status)
            if written is not None:
                return written
        while True:
            old, revision = await self._read_after(conflict, namespace, name)
            new = mutate(clone(old))
            if new is None:
                return old
            self._stamp_type(new)
            try:
                return await self._write_update(new, old, revision, dry_run, status)
            except ApiError as exc:
                if exc.reason != errors.Reason.CONFLICT.value:
                    raise
                conflict = exc

    async def guaranteed_update_raw(self, namespace: str, name: str, mutate: Mutation) -> Any:
        """Like guaranteed_update, for server-owned writes that set spec and status together
        (binding a pod): no strategy preparation, only validation."""
        written, conflict = await self._update_cached(namespace, name, mutate, None)
        if written is not None:
            return written
        while True:
            old, revision = await self._read_after(conflict, namespace, name)
            new = mutate(clone(old))
            if new is None:
                return old
            found = self.strategy.validate_raw_update(new, old)
            if found:
                raise self._invalid(name, found)
            try:
                return await self._store_update(new, revision)
            except ApiError as exc:
                if exc.reason != errors.Reason.CONFLICT.value:
                    raise
                conflict = exc

    async def _update_cached(self, namespace: str, name: str, mutate: Mutation,
                             status: bool | None) -> tuple[Any | None, ApiError | None]:
        """One read-modify-write attempt on the watch cache's copy instead of a read from etcd.

        The write is a compare-and-swap on the cached revision, so a stale copy can only make
        it fail, never overwrite a newer object. Anything short of a successful write — a
        conflict, the object missing, ``mutate`` refusing or finding nothing to change, an
        invalid result — returns no object and the caller starts over from the stored one, so
        what the caller finally sees is decided on it, as before: from the object the conflict
        returned, else read from etcd. ``status`` None means a raw update
        (guaranteed_update_raw).
        """
        cached = self.cache.latest(self.kind, self.key(namespace, name))
        if cached is None:
            return None, None
        try:
            new = mutate(clone(cached))
            if new is None:
                return None, None
            if status is None:
                if self.strategy.validate_raw_update(new, cached):
                    return None, None
            else:
                self._stamp_type(new)
                self._prepare_update(new, cached, status)
                if new == cached:
                    return None, None
            return await self._store_update(new, int(cached.metadata.resource_version)), None
        except StoreUnavailableError:
            raise  # the write may have happened: report it as the etcd path would
        except ApiError as exc:
            return None, exc if exc.reason == errors.Reason.CONFLICT.value else None
        except Exception:
            return None, None

    # -- patch ----------------------------------------------------------------------------
    async def patch(self, namespace: str, name: str, patch_type: str, patch: bytes,
                    subresource: str = "", dry_run: bool = False) -> Any:
        try:
            document = json.loads(patch or b"null")
        except ValueError as exc:
            raise errors.bad_request(f"the patch is not valid JSON: {exc}") from None
        status = subresource == "status"
        if subresource not in ("", "status", "finalize") or \
                (subresource == "finalize" and self.kind.name != "Namespace"):
            raise errors.bad_request(f'unknown subresource "{subresource}" of {self.kind.plural}')

        def apply(current: Any) -> Any:
            before = codec.encode(current)
            after = patching.apply(patch_type or "merge", before, document)
            wanted_version = (after.get("metadata") or {}).get("resourceVersion")
            if wanted_version and wanted_version != current.metadata.resource_version:
                raise self._conflict(name)
            try:
                patched: Any = codec.decode(self.kind.message, after)
            except codec.DecodeError as exc:
                raise self._invalid(name, exc.errors) from None
            patched.metadata.resource_version = current.metadata.resource_version
            return patched

        if subresource == "finalize":
            def finalize(current: Any) -> Any:
                current.spec.finalizers[:] = apply(current).spec.finalizers
                return current
            return await self.guaranteed_update_raw(namespace, name, finalize)
        return await self.guaranteed_update(namespace, name, apply, status=status,
                                            dry_run=dry_run)

    # -- delete ---------------------------------------------------------------------------
    async def delete(self, namespace: str, name: str, options: DeleteOptions) -> Any:
        policy = options.propagation_policy or self.strategy.default_propagation()
        if policy not in PROPAGATION_POLICIES:
            raise self._invalid(name, [errors.unsupported("propagationPolicy", policy,
                                                          PROPAGATION_POLICIES)])
        if options.grace_period_seconds is not None and options.grace_period_seconds < 0:
            raise self._invalid(name, [errors.invalid(
                "gracePeriodSeconds", options.grace_period_seconds,
                "must be greater than or equal to 0")])
        while True:
            old, revision = await self._read(namespace, name)
            self._check_preconditions(old, options)
            new = clone(old)
            meta = new.metadata
            finalizer = {"Orphan": ORPHAN_FINALIZER, "Foreground": FOREGROUND_FINALIZER}.get(policy)
            if options.propagation_policy and finalizer is None:
                # An explicit Background request replaces an earlier Orphan or Foreground one.
                for stale in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER):
                    if stale in meta.finalizers:
                        meta.finalizers.remove(stale)
            if finalizer and finalizer not in meta.finalizers:
                other = FOREGROUND_FINALIZER if finalizer == ORPHAN_FINALIZER else ORPHAN_FINALIZER
                if other in meta.finalizers:
                    meta.finalizers.remove(other)
                meta.finalizers.append(finalizer)
            grace = self.strategy.graceful_delete_seconds(old, options.grace_period_seconds)
            now = time.time()
            if not meta.deletion_timestamp or grace < meta.deletion_grace_period_seconds:
                meta.deletion_timestamp = now_rfc3339(now + grace)
                meta.deletion_grace_period_seconds = grace
            self.strategy.prepare_for_delete(new)
            if options.dry_run:
                return new
            key = self.key(namespace, name)
            try:
                if meta.deletion_grace_period_seconds == 0 and not meta.finalizers and \
                        not self.strategy.delete_deferred(new):
                    kv = await self.store.delete(key, revision)
                    self.cache.forget_write(self.kind, key)
                    gone = old
                    self.cache.note_written(self.kind, kv.mod_revision)
                    gone.metadata.resource_version = str(kv.mod_revision)
                    return gone
                if new == old:
                    return old
                return await self._store_update(new, revision)
            except ApiError as exc:
                if exc.reason != errors.Reason.CONFLICT.value:
                    raise
            except ConflictError:
                continue
            except KeyNotFoundError:
                raise self._not_found(name) from None

    def _check_preconditions(self, obj: Any, options: DeleteOptions) -> None:
        meta = obj.metadata
        if options.precondition_uid and options.precondition_uid != meta.uid:
            raise errors.conflict_error(
                self.kind.qualified_plural, meta.name,
                f"Precondition failed: UID in precondition: {options.precondition_uid}, "
                f"UID in object meta: {meta.uid}")
        if options.precondition_resource_version and \
                options.precondition_resource_version != meta.resource_version:
            raise errors.conflict_error(
                self.kind.qualified_plural, meta.name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{options.precondition_resource_version}, ResourceVersion in object meta: "
                f"{meta.resource_version}")
