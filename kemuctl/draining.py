"""Which pods ``drain`` may delete, after kubectl's drain filters: DaemonSet-managed pods are
refused (or skipped with --ignore-daemonsets), pods with emptyDir data are refused (or deleted
with --delete-emptydir-data), pods no controller manages are refused (or deleted with --force),
mirror pods are skipped, and finished pods always go."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kemu.api.meta import controller_of

DAEMON_SET_FATAL = "DaemonSet-managed Pods (use --ignore-daemonsets to ignore)"
DAEMON_SET_WARNING = "ignoring DaemonSet-managed Pods"
LOCAL_STORAGE_FATAL = "Pods with local storage (use --delete-emptydir-data to override)"
LOCAL_STORAGE_WARNING = "deleting Pods with local storage"
UNMANAGED_FATAL = "cannot delete Pods that declare no controller (use --force to override)"
UNMANAGED_WARNING = "deleting Pods that declare no controller"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass(frozen=True)
class DrainOptions:
    force: bool = False
    ignore_daemonsets: bool = False
    delete_emptydir_data: bool = False


@dataclass(frozen=True)
class Verdict:
    delete: bool
    warning: str = ""
    error: str = ""


OKAY = Verdict(True)
SKIP = Verdict(False)


@dataclass
class DrainPlan:
    delete: list[Any] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def warning_text(self) -> str:
        return "; ".join(f"{message}: {', '.join(pods)}"
                         for message, pods in self.warnings.items())

    def error_texts(self) -> list[str]:
        return [f"cannot delete {message}: {', '.join(pods)}"
                for message, pods in self.errors.items()]


def _finished(pod: Any) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


DaemonSetExists = Callable[[str, str], bool | str]


def _daemon_set(pod: Any, options: DrainOptions, exists: DaemonSetExists) -> Verdict:
    owner = controller_of(pod)
    if owner is None or owner.kind != "DaemonSet" or _finished(pod):
        return OKAY
    found = exists(pod.metadata.namespace, owner.name)
    if found is not True:
        message = str(found)
        return Verdict(True, warning=message) if options.force else Verdict(False, error=message)
    if not options.ignore_daemonsets:
        return Verdict(False, error=DAEMON_SET_FATAL)
    return Verdict(False, warning=DAEMON_SET_WARNING)


def _mirror(pod: Any, options: DrainOptions, exists: DaemonSetExists) -> Verdict:
    return SKIP if MIRROR_ANNOTATION in pod.metadata.annotations else OKAY


def _local_storage(pod: Any, options: DrainOptions, exists: DaemonSetExists) -> Verdict:
    if not any(v.HasField("empty_dir") for v in pod.spec.volumes) or _finished(pod):
        return OKAY
    if not options.delete_emptydir_data:
        return Verdict(False, error=LOCAL_STORAGE_FATAL)
    return Verdict(True, warning=LOCAL_STORAGE_WARNING)


def _unreplicated(pod: Any, options: DrainOptions, exists: DaemonSetExists) -> Verdict:
    if _finished(pod) or controller_of(pod) is not None:
        return OKAY
    if options.force:
        return Verdict(True, warning=UNMANAGED_WARNING)
    return Verdict(False, error=UNMANAGED_FATAL)


FILTERS = (_daemon_set, _mirror, _local_storage, _unreplicated)


def plan(pods: Sequence[Any], options: DrainOptions, exists: DaemonSetExists) -> DrainPlan:
    """Run every pod through the filters in order; the first that does not delete decides."""
    result = DrainPlan()
    for pod in pods:
        verdict = OKAY
        for check in FILTERS:
            verdict = check(pod, options, exists)
            if not verdict.delete:
                break
        name = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if verdict.error:
            result.errors.setdefault(verdict.error, []).append(name)
        elif verdict.warning:
            result.warnings.setdefault(verdict.warning, []).append(name)
        if verdict.delete:
            result.delete.append(pod)
    return result
