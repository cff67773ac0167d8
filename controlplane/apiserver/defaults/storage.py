"""PersistentVolumeClaim defaults: a Filesystem volume mode (status Pending is set at create)."""

from __future__ import annotations

from kemu.v1 import core_pb2


def default_claim_spec(spec: core_pb2.PersistentVolumeClaimSpec) -> None:
    if not spec.HasField("volume_mode"):
        spec.volume_mode = "Filesystem"


def default_claim(claim: core_pb2.PersistentVolumeClaim) -> None:
    default_claim_spec(claim.spec)
