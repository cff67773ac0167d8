"""Tables of the workload controllers: ReplicaSet, ReplicationController, Deployment, DaemonSet,
StatefulSet, Job, CronJob and ControllerRevision."""

from __future__ import annotations

from typing import Any

from kemu.api.labels import label_selector_string
from kemu.api.meta import controller_of, parse_time
from kemuctl.printers.table import AGE, NAME, Column, KindTable, format_labels
from kemuctl.timefmt import human_duration, since

CONTAINERS = Column("Containers", wide=True)
IMAGES = Column("Images", wide=True)
SELECTOR = Column("Selector", wide=True)


def template_containers(template: Any) -> tuple[str, str]:
    containers = template.spec.containers
    return ",".join(c.name for c in containers), ",".join(c.image for c in containers)


def replicas_of(spec: Any) -> int:
    return int(spec.replicas) if spec.HasField("replicas") else 1


def _replica_set_row(rs: Any, now: float) -> list[str]:
    names, images = template_containers(rs.spec.template)
    return [rs.metadata.name, str(replicas_of(rs.spec)), str(rs.status.replicas),
            str(rs.status.ready_replicas), since(rs.metadata.creation_timestamp, now), names,
            images, label_selector_string(rs.spec.selector)]


def _replication_controller_row(rc: Any, now: float) -> list[str]:
    names, images = template_containers(rc.spec.template)
    return [rc.metadata.name, str(replicas_of(rc.spec)), str(rc.status.replicas),
            str(rc.status.ready_replicas), since(rc.metadata.creation_timestamp, now), names,
            images, format_labels(rc.spec.selector)]


_REPLICAS_COLUMNS = (NAME, Column("Desired"), Column("Current"), Column("Ready"), AGE, CONTAINERS,
                     IMAGES, SELECTOR)
REPLICA_SETS = KindTable(_REPLICAS_COLUMNS, _replica_set_row)
REPLICATION_CONTROLLERS = KindTable(_REPLICAS_COLUMNS, _replication_controller_row)


def _deployment_row(deploy: Any, now: float) -> list[str]:
    names, images = template_containers(deploy.spec.template)
    status = deploy.status
    return [deploy.metadata.name, f"{status.ready_replicas}/{replicas_of(deploy.spec)}",
            str(status.updated_replicas), str(status.available_replicas),
            since(deploy.metadata.creation_timestamp, now), names, images,
            label_selector_string(deploy.spec.selector)]


DEPLOYMENTS = KindTable((NAME, Column("Ready"), Column("Up-to-date"), Column("Available"), AGE,
                         CONTAINERS, IMAGES, SELECTOR), _deployment_row)


def _daemon_set_row(ds: Any, now: float) -> list[str]:
    names, images = template_containers(ds.spec.template)
    status = ds.status
    return [ds.metadata.name, str(status.desired_number_scheduled),
            str(status.current_number_scheduled), str(status.number_ready),
            str(status.updated_number_scheduled), str(status.number_available),
            format_labels(ds.spec.template.spec.node_selector),
            since(ds.metadata.creation_timestamp, now), names, images,
            label_selector_string(ds.spec.selector)]


DAEMON_SETS = KindTable((NAME, Column("Desired"), Column("Current"), Column("Ready"),
                         Column("Up-to-date"), Column("Available"), Column("Node Selector"), AGE,
                         CONTAINERS, IMAGES, SELECTOR), _daemon_set_row)


def _stateful_set_row(sts: Any, now: float) -> list[str]:
    names, images = template_containers(sts.spec.template)
    return [sts.metadata.name, f"{sts.status.ready_replicas}/{replicas_of(sts.spec)}",
            since(sts.metadata.creation_timestamp, now), names, images]


STATEFUL_SETS = KindTable((NAME, Column("Ready"), AGE, CONTAINERS, IMAGES), _stateful_set_row)


def _has_condition(job: Any, kind: str) -> bool:
    return any(c.type == kind and c.status == "True" for c in job.status.conditions)


def job_status(job: Any) -> str:
    if _has_condition(job, "Complete"):
        return "Complete"
    if _has_condition(job, "Failed"):
        return "Failed"
    if job.metadata.deletion_timestamp:
        return "Terminating"
    if _has_condition(job, "Suspended"):
        return "Suspended"
    if _has_condition(job, "FailureTarget"):
        return "FailureTarget"
    if _has_condition(job, "SuccessCriteriaMet"):
        return "SuccessCriteriaMet"
    return "Running"


def job_completions(job: Any) -> str:
    if job.spec.HasField("completions"):
        return f"{job.status.succeeded}/{job.spec.completions}"
    parallelism = job.spec.parallelism if job.spec.HasField("parallelism") else 0
    if parallelism > 1:
        return f"{job.status.succeeded}/1 of {parallelism}"
    return f"{job.status.succeeded}/1"


def job_duration(job: Any, now: float) -> str:
    start = job.status.start_time
    if not start:
        return ""
    end = job.status.completion_time
    finished = parse_time(end) if end else now
    return human_duration(finished - parse_time(start))


def _job_row(job: Any, now: float) -> list[str]:
    names, images = template_containers(job.spec.template)
    return [job.metadata.name, job_status(job), job_completions(job), job_duration(job, now),
            since(job.metadata.creation_timestamp, now), names, images,
            label_selector_string(job.spec.selector)]


JOBS = KindTable((NAME, Column("Status"), Column("Completions"), Column("Duration"), AGE,
                  CONTAINERS, IMAGES, SELECTOR), _job_row)


def bool_pointer(message: Any, name: str) -> str:
    if not message.HasField(name):
        return "<unset>"
    return "True" if getattr(message, name) else "False"


def _cron_job_row(cj: Any, now: float) -> list[str]:
    job_spec = cj.spec.job_template.spec
    names, images = template_containers(job_spec.template)
    last = cj.status.last_schedule_time
    return [cj.metadata.name, cj.spec.schedule,
            cj.spec.time_zone if cj.spec.HasField("time_zone") else "<none>",
            bool_pointer(cj.spec, "suspend"), str(len(cj.status.active)),
            since(last, now) if last else "<none>", since(cj.metadata.creation_timestamp, now),
            names, images,
            label_selector_string(job_spec.selector) if job_spec.HasField("selector")
            else "<none>"]


CRON_JOBS = KindTable((NAME, Column("Schedule"), Column("Timezone"), Column("Suspend"),
                       Column("Active"), Column("Last Schedule"), AGE, CONTAINERS, IMAGES,
                       SELECTOR), _cron_job_row)


def _group_of(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _controller_revision_row(revision: Any, now: float) -> list[str]:
    owner = controller_of(revision)
    controller = "<none>"
    if owner is not None:
        group = _group_of(owner.api_version)
        kind = f"{owner.kind}.{group}" if group else owner.kind
        controller = f"{kind.lower()}/{owner.name}"
    return [revision.metadata.name, controller, str(revision.revision),
            since(revision.metadata.creation_timestamp, now)]


CONTROLLER_REVISIONS = KindTable((NAME, Column("Controller"), Column("Revision"), AGE),
                                 _controller_revision_row)
