"""``describe`` for ReplicaSet, ReplicationController, Deployment, DaemonSet, StatefulSet, Job
and CronJob."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kemu.api.labels import label_selector_string
from kemuctl.describe import common
from kemuctl.describe.writer import LEVEL_0, LEVEL_1, PrefixWriter
from kemuctl.printers.table import format_labels
from kemuctl.printers.workloads import bool_pointer, replicas_of
from kemuctl.timefmt import between, rfc1123z


@dataclass(frozen=True)
class PodCounts:
    running: int = 0
    waiting: int = 0
    succeeded: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (f"{self.running} Running / {self.waiting} Waiting / {self.succeeded} Succeeded / "
                f"{self.failed} Failed")


def count_pods(pods: Sequence[Any], owner_uid: str) -> PodCounts:
    """Phases of the pods whose controller is ``owner_uid`` (getPodStatusForController)."""
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for pod in pods:
        if not any(r.uid == owner_uid and r.HasField("controller") and r.controller
                   for r in pod.metadata.owner_references):
            continue
        if pod.status.phase in counts:
            counts[pod.status.phase] += 1
    return PodCounts(counts["Running"], counts["Pending"], counts["Succeeded"], counts["Failed"])


def _conditions(w: PrefixWriter, conditions: Sequence[Any]) -> None:
    if conditions:
        w.write(LEVEL_0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(LEVEL_1, "----\t------\t------\n")
        for c in conditions:
            w.write(LEVEL_1, f"{c.type} \t{c.status}\t{c.reason}\n")


def _header(w: PrefixWriter, obj: Any) -> None:
    w.write(LEVEL_0, f"Name:\t{obj.metadata.name}\n")
    w.write(LEVEL_0, f"Namespace:\t{obj.metadata.namespace}\n")


def describe_replica_set(rs: Any, counts: PodCounts, events: Sequence[Any] | None,
                         now: float) -> str:
    w = PrefixWriter()
    _header(w, rs)
    w.write(LEVEL_0, f"Selector:\t{label_selector_string(rs.spec.selector)}\n")
    common.labels_multiline(w, "Labels", rs.metadata.labels)
    common.annotations_multiline(w, "Annotations", rs.metadata.annotations)
    owner = common.controlled_by(rs)
    if owner:
        w.write(LEVEL_0, f"Controlled By:\t{owner}\n")
    w.write(LEVEL_0, f"Replicas:\t{rs.status.replicas} current / {replicas_of(rs.spec)} desired\n")
    w.write(LEVEL_0, f"Pods Status:\t{counts}\n")
    common.pod_template(w, rs.spec.template)
    _conditions(w, rs.status.conditions)
    common.events(w, events, now)
    return w.render()


def describe_replication_controller(rc: Any, counts: PodCounts, events: Sequence[Any] | None,
                                    now: float) -> str:
    w = PrefixWriter()
    _header(w, rc)
    w.write(LEVEL_0, f"Selector:\t{format_labels(rc.spec.selector)}\n")
    common.labels_multiline(w, "Labels", rc.metadata.labels)
    common.annotations_multiline(w, "Annotations", rc.metadata.annotations)
    w.write(LEVEL_0, f"Replicas:\t{rc.status.replicas} current / {replicas_of(rc.spec)} desired\n")
    w.write(LEVEL_0, f"Pods Status:\t{counts}\n")
    common.pod_template(w, rc.spec.template)
    _conditions(w, rc.status.conditions)
    common.events(w, events, now)
    return w.render()


def _replica_sets(items: Sequence[Any]) -> str:
    return ", ".join(f"{rs.metadata.name} ({rs.status.replicas}/{replicas_of(rs.spec)} replicas "
                     "created)" for rs in items) or "<none>"


def _int_or_string(value: Any, default: str) -> str:
    which = value.WhichOneof("value")
    if which == "int_value":
        return str(value.int_value)
    return str(value.string_value) if which else default


def describe_deployment(deploy: Any, old: Sequence[Any], new: Sequence[Any],
                        events: Sequence[Any] | None, now: float) -> str:
    w = PrefixWriter()
    spec, status = deploy.spec, deploy.status
    _header(w, deploy)
    w.write(LEVEL_0, f"CreationTimestamp:\t{rfc1123z(deploy.metadata.creation_timestamp)}\n")
    common.labels_multiline(w, "Labels", deploy.metadata.labels)
    common.annotations_multiline(w, "Annotations", deploy.metadata.annotations)
    w.write(LEVEL_0, f"Selector:\t{label_selector_string(spec.selector)}\n")
    w.write(LEVEL_0, f"Replicas:\t{replicas_of(spec)} desired | {status.updated_replicas} updated "
                     f"| {status.replicas} total | {status.available_replicas} available | "
                     f"{status.unavailable_replicas} unavailable\n")
    strategy = spec.strategy.type or "RollingUpdate"
    w.write(LEVEL_0, f"StrategyType:\t{strategy}\n")
    w.write(LEVEL_0, f"MinReadySeconds:\t{spec.min_ready_seconds}\n")
    if strategy == "RollingUpdate":
        rolling = spec.strategy.rolling_update
        w.write(LEVEL_0, f"RollingUpdateStrategy:\t"
                         f"{_int_or_string(rolling.max_unavailable, '25%')} max unavailable, "
                         f"{_int_or_string(rolling.max_surge, '25%')} max surge\n")
    common.pod_template(w, spec.template)
    _conditions(w, status.conditions)
    if old or new:
        w.write(LEVEL_0, f"OldReplicaSets:\t{_replica_sets(old)}\n")
        w.write(LEVEL_0, f"NewReplicaSet:\t{_replica_sets(new)}\n")
    common.events(w, events, now)
    return w.render()


def describe_daemon_set(ds: Any, counts: PodCounts, events: Sequence[Any] | None,
                        now: float) -> str:
    w = PrefixWriter()
    status = ds.status
    _header(w, ds)
    w.write(LEVEL_0, f"Selector:\t{label_selector_string(ds.spec.selector)}\n")
    node_selector = ds.spec.template.spec.node_selector
    w.write(LEVEL_0, f"Node-Selector:\t{format_labels(node_selector)}\n")
    common.labels_multiline(w, "Labels", ds.metadata.labels)
    common.annotations_multiline(w, "Annotations", ds.metadata.annotations)
    w.write(LEVEL_0, f"Desired Number of Nodes Scheduled: {status.desired_number_scheduled}\n")
    w.write(LEVEL_0, f"Current Number of Nodes Scheduled: {status.current_number_scheduled}\n")
    w.write(LEVEL_0, "Number of Nodes Scheduled with Up-to-date Pods: "
                     f"{status.updated_number_scheduled}\n")
    w.write(LEVEL_0, "Number of Nodes Scheduled with Available Pods: "
                     f"{status.number_available}\n")
    w.write(LEVEL_0, f"Number of Nodes Misscheduled: {status.number_misscheduled}\n")
    w.write(LEVEL_0, f"Pods Status:\t{counts}\n")
    common.pod_template(w, ds.spec.template)
    common.events(w, events, now)
    return w.render()


def describe_stateful_set(sts: Any, counts: PodCounts, events: Sequence[Any] | None,
                          now: float) -> str:
    w = PrefixWriter()
    spec = sts.spec
    _header(w, sts)
    w.write(LEVEL_0, f"CreationTimestamp:\t{rfc1123z(sts.metadata.creation_timestamp)}\n")
    w.write(LEVEL_0, f"Selector:\t{label_selector_string(spec.selector)}\n")
    common.labels_multiline(w, "Labels", sts.metadata.labels)
    common.annotations_multiline(w, "Annotations", sts.metadata.annotations)
    w.write(LEVEL_0, f"Replicas:\t{replicas_of(spec)} desired | {sts.status.replicas} total\n")
    w.write(LEVEL_0, f"Update Strategy:\t{spec.update_strategy.type or 'RollingUpdate'}\n")
    rolling = spec.update_strategy.rolling_update
    if spec.update_strategy.HasField("rolling_update") and rolling.HasField("partition"):
        w.write(LEVEL_1, f"Partition:\t{rolling.partition}\n")
        if rolling.HasField("max_unavailable"):
            w.write(LEVEL_1, f"MaxUnavailable:\t{_int_or_string(rolling.max_unavailable, '')}\n")
    w.write(LEVEL_0, f"Pods Status:\t{counts}\n")
    common.pod_template(w, spec.template)
    if not spec.volume_claim_templates:
        w.write(LEVEL_0, "Volume Claims:\t<none>\n")
    else:
        w.write(LEVEL_0, "Volume Claims:\n")
        for claim in spec.volume_claim_templates:
            w.write(LEVEL_1, f"Name:\t{claim.metadata.name}\n")
            storage_class = claim.spec.storage_class_name \
                if claim.spec.HasField("storage_class_name") else ""
            w.write(LEVEL_1, f"StorageClass:\t{storage_class}\n")
            common.labels_multiline(w, "Labels", claim.metadata.labels, "  ")
            common.labels_multiline(w, "Annotations", claim.metadata.annotations, "  ")
            requests = claim.spec.resources.requests
            capacity = requests["storage"].value if "storage" in requests else "<default>"
            w.write(LEVEL_1, f"Capacity:\t{capacity}\n")
            w.write(LEVEL_1, f"Access Modes:\t[{' '.join(claim.spec.access_modes)}]\n")
    common.events(w, events, now)
    return w.render()


def cap_indexes(indexes: str, soft_limit: int) -> str:
    """kubectl's capIndexesListOrNone: ``<none>``, or the list cut at the first comma after
    ``soft_limit`` characters, with ``...``."""
    if not indexes:
        return "<none>"
    cut = indexes.find(",", soft_limit)
    if len(indexes) <= soft_limit or cut < 0:
        return indexes
    return indexes[:cut + 1] + "..."


def describe_job(job: Any, events: Sequence[Any] | None, now: float) -> str:
    w = PrefixWriter()
    spec, status = job.spec, job.status
    _header(w, job)
    w.write(LEVEL_0, f"Selector:\t{label_selector_string(spec.selector)}\n")
    common.labels_multiline(w, "Labels", job.metadata.labels)
    common.annotations_multiline(w, "Annotations", job.metadata.annotations)
    owner = common.controlled_by(job)
    if owner:
        w.write(LEVEL_0, f"Controlled By:\t{owner}\n")
    if spec.HasField("parallelism"):
        w.write(LEVEL_0, f"Parallelism:\t{spec.parallelism}\n")
    w.write(LEVEL_0, f"Completions:\t{spec.completions if spec.HasField('completions') else '<unset>'}\n")
    if spec.HasField("completion_mode"):
        w.write(LEVEL_0, f"Completion Mode:\t{spec.completion_mode}\n")
    if spec.HasField("suspend"):
        w.write(LEVEL_0, f"Suspend:\t{'true' if spec.suspend else 'false'}\n")
    if spec.HasField("backoff_limit"):
        w.write(LEVEL_0, f"Backoff Limit:\t{spec.backoff_limit}\n")
    if spec.HasField("ttl_seconds_after_finished"):
        w.write(LEVEL_0, f"TTL Seconds After Finished:\t{spec.ttl_seconds_after_finished}\n")
    if status.start_time:
        w.write(LEVEL_0, f"Start Time:\t{rfc1123z(status.start_time)}\n")
    if status.completion_time:
        w.write(LEVEL_0, f"Completed At:\t{rfc1123z(status.completion_time)}\n")
    if status.start_time and status.completion_time:
        w.write(LEVEL_0, f"Duration:\t{between(status.start_time, status.completion_time)}\n")
    if spec.HasField("active_deadline_seconds"):
        w.write(LEVEL_0, f"Active Deadline Seconds:\t{spec.active_deadline_seconds}s\n")
    if status.HasField("ready"):
        w.write(LEVEL_0, f"Pods Statuses:\t{status.active} Active ({status.ready} Ready) / "
                         f"{status.succeeded} Succeeded / {status.failed} Failed\n")
    else:
        w.write(LEVEL_0, f"Pods Statuses:\t{status.active} Active / {status.succeeded} Succeeded"
                         f" / {status.failed} Failed\n")
    if spec.HasField("completion_mode") and spec.completion_mode == "Indexed":
        w.write(LEVEL_0, f"Completed Indexes:\t{cap_indexes(status.completed_indexes, 50)}\n")
    common.pod_template(w, spec.template)
    common.events(w, events, now)
    return w.render()


def describe_cron_job(cj: Any, events: Sequence[Any] | None, now: float) -> str:
    w = PrefixWriter()
    spec = cj.spec
    _header(w, cj)
    common.labels_multiline(w, "Labels", cj.metadata.labels)
    common.annotations_multiline(w, "Annotations", cj.metadata.annotations)
    w.write(LEVEL_0, f"Schedule:\t{spec.schedule}\n")
    w.write(LEVEL_0, f"Concurrency Policy:\t{spec.concurrency_policy}\n")
    w.write(LEVEL_0, f"Suspend:\t{bool_pointer(spec, 'suspend')}\n")
    for title, field in (("Successful Job History Limit", "successful_jobs_history_limit"),
                         ("Failed Job History Limit", "failed_jobs_history_limit")):
        value = getattr(spec, field) if spec.HasField(field) else "<unset>"
        w.write(LEVEL_0, f"{title}:\t{value}\n")
    deadline = f"{spec.starting_deadline_seconds}s" \
        if spec.HasField("starting_deadline_seconds") else "<unset>"
    w.write(LEVEL_0, f"Starting Deadline Seconds:\t{deadline}\n")
    job_spec = spec.job_template.spec
    selector = label_selector_string(job_spec.selector) if job_spec.HasField("selector") \
        else "<unset>"
    w.write(LEVEL_0, f"Selector:\t{selector}\n")
    for title, field in (("Parallelism", "parallelism"), ("Completions", "completions")):
        value = getattr(job_spec, field) if job_spec.HasField(field) else "<unset>"
        w.write(LEVEL_0, f"{title}:\t{value}\n")
    if job_spec.HasField("active_deadline_seconds"):
        w.write(LEVEL_0, f"Active Deadline Seconds:\t{job_spec.active_deadline_seconds}s\n")
    common.pod_template(w, job_spec.template)
    last = cj.status.last_schedule_time
    w.write(LEVEL_0, f"Last Schedule Time:\t{rfc1123z(last) if last else '<unset>'}\n")
    active = ", ".join(ref.name for ref in cj.status.active) or "<none>"
    w.write(LEVEL_0, f"Active Jobs:\t{active}\n")
    common.events(w, events, now)
    return w.render()
