"""``kemuctl create job NAME --from=cronjob/CRONJOB`` (or ``--image=IMAGE [-- COMMAND ...]``):
a Job made by hand, as kubectl makes it.

From a CronJob the Job copies its job template (labels, annotations, spec), is annotated
``cronjob.kubernetes.io/instantiate: manual`` and names the CronJob as controller owner (without
``blockOwnerDeletion``, like kubectl); the CronJob controller then reports it as
``UnexpectedJob``. With ``--image`` it runs one container named after the Job, with
``restartPolicy: Never``.
"""

from __future__ import annotations

import click

from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import batch_pb2, meta_pb2
from kemuctl import session
from kemuctl.errors import CliError, server_error

_CRONJOB_NAMES = ("cronjob", "cronjobs", "cj", "cronjob.batch", "cronjobs.batch")
INSTANTIATE = "cronjob.kubernetes.io/instantiate"


def job_from_cron_job(name: str, cron_job: batch_pb2.CronJob) -> batch_pb2.Job:
    template = cron_job.spec.job_template
    job = batch_pb2.Job(api_version="batch/v1", kind="Job")
    job.metadata.name = name
    job.metadata.namespace = cron_job.metadata.namespace
    job.metadata.annotations[INSTANTIATE] = "manual"
    job.metadata.annotations.update(template.metadata.annotations)
    job.metadata.labels.update(template.metadata.labels)
    job.metadata.owner_references.append(meta_pb2.OwnerReference(
        api_version="batch/v1", kind="CronJob", name=cron_job.metadata.name,
        uid=cron_job.metadata.uid, controller=True))
    job.spec.CopyFrom(template.spec)
    return job


def job_from_image(name: str, image: str, command: tuple[str, ...],
                   namespace: str) -> batch_pb2.Job:
    job = batch_pb2.Job(api_version="batch/v1", kind="Job")
    job.metadata.name = name
    job.metadata.namespace = namespace
    container = job.spec.template.spec.containers.add(name=name, image=image)
    container.command.extend(command)
    job.spec.template.spec.restart_policy = "Never"
    return job


def _cron_job_name(source: str) -> str:
    kind, _, name = source.partition("/")
    if not name or kind.lower() not in _CRONJOB_NAMES:
        raise CliError(f"from must be an existing cronjob: {source}")
    return name


@click.command("job", context_settings={"ignore_unknown_options": False})
@click.argument("name")
@click.argument("command", nargs=-1)
@click.option("--from", "source", default="",
              help="The name of the resource to create a Job from (only cronjob is supported).")
@click.option("--image", default="", help="Image name to run.")
@session.global_options
def create_job(name: str, command: tuple[str, ...], source: str, image: str) -> None:
    """Create a job with the specified name."""
    if bool(source) == bool(image):
        raise CliError("either --image or --from must be specified")
    if source and command:
        raise CliError("cannot specify --from and command")
    config = session.settings()

    async def action(client: GrpcClient) -> int:
        try:
            if source:
                cron_job = await client.get(batch_pb2.CronJob, _cron_job_name(source),
                                            config.namespace)
                job = job_from_cron_job(name, cron_job)
            else:
                job = job_from_image(name, image, command, config.namespace)
            created = await client.create(job)
        except ApiError as exc:
            session.check_reachable(client, exc)
            session.err(server_error(exc))
            return 1
        session.out(f"job.batch/{created.metadata.name} created")
        return 0

    session.run(action)
