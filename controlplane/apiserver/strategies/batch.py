"""Jobs and CronJobs. A Job without ``manualSelector`` gets Kubernetes' generated selector and
pod labels (``batch.kubernetes.io/controller-uid``, ``controller-uid``,
``batch.kubernetes.io/job-name``, ``job-name``) once its UID is known, at create."""

from __future__ import annotations

from typing import Any

from controlplane.apiserver.strategies.validated import ValidatedStrategy
from controlplane.apiserver.validation import batch
from controlplane.apiserver.validation.meta import validate_object_meta_update
from kemu.api.errors import FieldError
from kemu.v1 import batch_pb2


def generate_selector(job: batch_pb2.Job) -> None:
    """generateSelector: labels the user set are kept (validation rejects wrong ones)."""
    template_labels = job.spec.template.metadata.labels
    for key in (batch.LEGACY_JOB_NAME, batch.JOB_NAME):
        template_labels.setdefault(key, job.metadata.name)
    for key in (batch.LEGACY_CONTROLLER_UID, batch.CONTROLLER_UID):
        template_labels.setdefault(key, job.metadata.uid)
    job.spec.selector.match_labels.setdefault(batch.CONTROLLER_UID, job.metadata.uid)


class JobStrategy(ValidatedStrategy):
    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        if not (obj.spec.HasField("manual_selector") and obj.spec.manual_selector):
            generate_selector(obj)
        # Kubernetes defaults a Job's labels from its template again when it is read back.
        if not obj.metadata.labels:
            obj.metadata.labels.update(obj.spec.template.metadata.labels)

    def validate_object(self, obj: Any) -> list[FieldError]:
        return batch.validate_job(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        found = validate_object_meta_update(new.metadata, old.metadata)
        found.extend(super(ValidatedStrategy, self).validate(new))
        found.extend(batch.validate_job_update(new, old))
        return found

    def validate_status(self, obj: Any) -> list[FieldError]:
        return batch.validate_job_status(obj.status)


class CronJobStrategy(ValidatedStrategy):
    def validate_object(self, obj: Any) -> list[FieldError]:
        return batch.validate_cron_job(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        # The 52-character name limit is for new CronJobs only, as in Kubernetes.
        found = validate_object_meta_update(new.metadata, old.metadata)
        found.extend(super(ValidatedStrategy, self).validate(new))
        found.extend(batch.validate_cron_job_spec(new.spec, old.spec))
        return found
