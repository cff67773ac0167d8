"""Namespace, Event, PersistentVolumeClaim, ConfigMap and Lease tables."""

from __future__ import annotations

from typing import Any

from kemuctl.printers.table import AGE, NAME, Column, KindTable
from kemuctl.timefmt import since


def _namespace_row(namespace: Any, now: float) -> list[str]:
    return [namespace.metadata.name, namespace.status.phase,
            since(namespace.metadata.creation_timestamp, now)]


NAMESPACES = KindTable((NAME, Column("Status"), AGE), _namespace_row)


def event_source(event: Any) -> str:
    component = event.source.component or event.reporting_component
    host = event.source.host or event.reporting_instance
    if component and host:
        return f"{component}, {host}"
    return str(component or host)


def event_first_seen(event: Any, now: float) -> str:
    return since(event.first_timestamp or event.event_time, now)


def event_last_seen(event: Any, now: float) -> str:
    if event.last_timestamp:
        return since(event.last_timestamp, now)
    return event_first_seen(event, now)


def event_object(event: Any) -> str:
    ref = event.involved_object
    return f"{ref.kind.lower()}/{ref.name}" if ref.name else ref.kind.lower()


def _event_row(event: Any, now: float) -> list[str]:
    return [event_last_seen(event, now), event.type, event.reason, event_object(event),
            event.involved_object.field_path, event_source(event), event.message.strip(),
            event_first_seen(event, now), str(event.count or 1), event.metadata.name]


EVENTS = KindTable((Column("Last Seen"), Column("Type"), Column("Reason"), Column("Object"),
                    Column("Subobject", wide=True), Column("Source", wide=True),
                    Column("Message"), Column("First Seen", wide=True),
                    Column("Count", wide=True), Column("Name", wide=True, is_name=True)),
                   _event_row)

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: Any) -> str:
    present = set(modes)
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def storage_class(pvc: Any) -> str:
    if pvc.spec.HasField("storage_class_name"):
        return str(pvc.spec.storage_class_name)
    return str(pvc.metadata.annotations.get("volume.beta.kubernetes.io/storage-class", ""))


def _pvc_row(pvc: Any, now: float) -> list[str]:
    phase = "Terminating" if pvc.metadata.deletion_timestamp else pvc.status.phase
    capacity = ""
    modes = ""
    if pvc.spec.volume_name:
        modes = access_modes(pvc.status.access_modes)
        capacity = pvc.status.capacity["storage"].value if "storage" in pvc.status.capacity else ""
    mode = pvc.spec.volume_mode if pvc.spec.HasField("volume_mode") else "<unset>"
    return [pvc.metadata.name, phase, pvc.spec.volume_name, capacity, modes, storage_class(pvc),
            "<unset>", since(pvc.metadata.creation_timestamp, now), mode]


PERSISTENT_VOLUME_CLAIMS = KindTable(
    (NAME, Column("Status"), Column("Volume"), Column("Capacity"), Column("Access Modes"),
     Column("StorageClass"), Column("VolumeAttributesClass"), AGE,
     Column("VolumeMode", wide=True)), _pvc_row)


def _config_map_row(cm: Any, now: float) -> list[str]:
    return [cm.metadata.name, str(len(cm.data) + len(cm.binary_data)),
            since(cm.metadata.creation_timestamp, now)]


CONFIG_MAPS = KindTable((NAME, Column("Data"), AGE), _config_map_row)


def _lease_row(lease: Any, now: float) -> list[str]:
    holder = lease.spec.holder_identity if lease.spec.HasField("holder_identity") else ""
    return [lease.metadata.name, holder, since(lease.metadata.creation_timestamp, now)]


LEASES = KindTable((NAME, Column("Holder"), AGE), _lease_row)
