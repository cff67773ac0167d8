"""``rollout status`` messages, worded as kubectl's status viewers word them; each returns the
message and whether the rollout is done, or raises when it can never finish."""

from __future__ import annotations

from typing import Any

from kemu.api.kinds import Kind
from kemuctl.errors import CliError
from kemuctl.printers.workloads import replicas_of
from kemuctl.rollout.deployments import revision_of

SUPPORTED = ("Deployment", "DaemonSet", "StatefulSet")


def status(kind: Kind, obj: Any, revision: int = 0) -> tuple[str, bool]:
    if kind.name == "Deployment":
        return deployment_status(obj, revision)
    if kind.name == "DaemonSet":
        return daemon_set_status(obj)
    if kind.name == "StatefulSet":
        return stateful_set_status(obj)
    raise CliError(f"no status viewer has been implemented for {kind.qualified_kind}")


def deployment_status(deploy: Any, revision: int = 0) -> tuple[str, bool]:
    name = deploy.metadata.name
    if revision > 0:
        current = revision_of(deploy)
        if current != revision:
            raise CliError(f"desired revision ({revision}) is different from the running "
                           f"revision ({current})")
    status = deploy.status
    if deploy.metadata.generation <= status.observed_generation:
        for condition in status.conditions:
            if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
                raise CliError(f'deployment "{name}" exceeded its progress deadline')
        desired = replicas_of(deploy.spec)
        if status.updated_replicas < desired:
            return (f'Waiting for deployment "{name}" rollout to finish: '
                    f"{status.updated_replicas} out of {desired} new replicas have been "
                    "updated...", False)
        if status.replicas > status.updated_replicas:
            return (f'Waiting for deployment "{name}" rollout to finish: '
                    f"{status.replicas - status.updated_replicas} old replicas are pending "
                    "termination...", False)
        if status.available_replicas < status.updated_replicas:
            return (f'Waiting for deployment "{name}" rollout to finish: '
                    f"{status.available_replicas} of {status.updated_replicas} updated replicas "
                    "are available...", False)
        return f'deployment "{name}" successfully rolled out', True
    return "Waiting for deployment spec update to be observed...", False


def daemon_set_status(ds: Any) -> tuple[str, bool]:
    name = ds.metadata.name
    if (ds.spec.update_strategy.type or "RollingUpdate") != "RollingUpdate":
        raise CliError("rollout status is only available for RollingUpdate strategy type")
    status = ds.status
    if ds.metadata.generation <= status.observed_generation:
        if status.updated_number_scheduled < status.desired_number_scheduled:
            return (f'Waiting for daemon set "{name}" rollout to finish: '
                    f"{status.updated_number_scheduled} out of {status.desired_number_scheduled} "
                    "new pods have been updated...", False)
        if status.number_available < status.desired_number_scheduled:
            return (f'Waiting for daemon set "{name}" rollout to finish: '
                    f"{status.number_available} of {status.desired_number_scheduled} updated "
                    "pods are available...", False)
        return f'daemon set "{name}" successfully rolled out', True
    return "Waiting for daemon set spec update to be observed...", False


def stateful_set_status(sts: Any) -> tuple[str, bool]:
    strategy = sts.spec.update_strategy
    if (strategy.type or "RollingUpdate") != "RollingUpdate":
        raise CliError("rollout status is only available for RollingUpdate strategy type")
    status = sts.status
    if status.observed_generation == 0 or sts.metadata.generation > status.observed_generation:
        return "Waiting for statefulset spec update to be observed...", False
    desired = replicas_of(sts.spec)
    if status.ready_replicas < desired:
        return f"Waiting for {desired - status.ready_replicas} pods to be ready...", False
    if strategy.HasField("rolling_update"):
        if strategy.rolling_update.HasField("partition"):
            wanted = desired - strategy.rolling_update.partition
            if status.updated_replicas < wanted:
                return (f"Waiting for partitioned roll out to finish: {status.updated_replicas} "
                        f"out of {wanted} new pods have been updated...", False)
        return (f"partitioned roll out complete: {status.updated_replicas} new pods have been "
                "updated...", True)
    if status.update_revision != status.current_revision:
        return (f"waiting for statefulset rolling update to complete {status.updated_replicas} "
                f"pods at revision {status.update_revision}...", False)
    return (f"statefulset rolling update complete {status.current_replicas} pods at revision "
            f"{status.current_revision}...", True)
