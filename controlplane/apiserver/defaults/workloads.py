"""Defaults of the pod controllers, after pkg/apis/apps/v1/defaults.go and the core
ReplicationController defaults: one replica, RollingUpdate strategies, ten revisions kept."""

from __future__ import annotations

from controlplane.apiserver.defaults.pod import default_pod_template
from controlplane.apiserver.defaults.storage import default_claim_spec
from kemu.v1 import apps_pb2, core_pb2

REVISION_HISTORY_LIMIT = 10
PROGRESS_DEADLINE_SECONDS = 600


def default_replica_set(rs: apps_pb2.ReplicaSet) -> None:
    if not rs.spec.HasField("replicas"):
        rs.spec.replicas = 1
    default_pod_template(rs.spec.template)


def default_replication_controller(rc: core_pb2.ReplicationController) -> None:
    spec = rc.spec
    template_labels = spec.template.metadata.labels
    if spec.HasField("template") and template_labels:
        if not spec.selector:
            spec.selector.update(template_labels)
        if not rc.metadata.labels:
            rc.metadata.labels.update(template_labels)
    if not spec.HasField("replicas"):
        spec.replicas = 1
    if spec.HasField("template"):
        default_pod_template(spec.template)


def default_deployment(deployment: apps_pb2.Deployment) -> None:
    spec = deployment.spec
    if not spec.HasField("replicas"):
        spec.replicas = 1
    strategy = spec.strategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
    if strategy.type == "RollingUpdate":
        rolling = strategy.rolling_update
        if not rolling.HasField("max_unavailable"):
            rolling.max_unavailable.string_value = "25%"
        if not rolling.HasField("max_surge"):
            rolling.max_surge.string_value = "25%"
    if not spec.HasField("revision_history_limit"):
        spec.revision_history_limit = REVISION_HISTORY_LIMIT
    if not spec.HasField("progress_deadline_seconds"):
        spec.progress_deadline_seconds = PROGRESS_DEADLINE_SECONDS
    default_pod_template(spec.template)


def default_daemon_set(ds: apps_pb2.DaemonSet) -> None:
    spec = ds.spec
    strategy = spec.update_strategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
    if strategy.type == "RollingUpdate":
        rolling = strategy.rolling_update
        if not rolling.HasField("max_unavailable"):
            rolling.max_unavailable.int_value = 1
        if not rolling.HasField("max_surge"):
            rolling.max_surge.int_value = 0
    if not spec.HasField("revision_history_limit"):
        spec.revision_history_limit = REVISION_HISTORY_LIMIT
    default_pod_template(spec.template)


def default_stateful_set(sts: apps_pb2.StatefulSet) -> None:
    spec = sts.spec
    if not spec.pod_management_policy:
        spec.pod_management_policy = "OrderedReady"
    strategy = spec.update_strategy
    if not strategy.type:
        strategy.type = "RollingUpdate"
        strategy.rolling_update.SetInParent()
    if strategy.type == "RollingUpdate" and strategy.HasField("rolling_update") and \
            not strategy.rolling_update.HasField("partition"):
        strategy.rolling_update.partition = 0
    policy = spec.persistent_volume_claim_retention_policy
    if not policy.when_deleted:
        policy.when_deleted = "Retain"
    if not policy.when_scaled:
        policy.when_scaled = "Retain"
    if not spec.HasField("replicas"):
        spec.replicas = 1
    if not spec.HasField("revision_history_limit"):
        spec.revision_history_limit = REVISION_HISTORY_LIMIT
    for claim in spec.volume_claim_templates:
        default_claim_spec(claim.spec)
        if not claim.status.phase:
            claim.status.phase = "Pending"
    default_pod_template(spec.template)
