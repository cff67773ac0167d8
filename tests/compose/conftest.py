"""Fixtures for the compose tests: one docker-compose (v1) project per test module, started
through pytest-docker with three kubelets, the fast timing profile and a free host port.

The chain: ``docker_engine`` (fails with what to do when docker is missing, or skips visibly when
KEMU_SKIP_COMPOSE=1) -> ``compose_base_image`` (compose/prepare.sh: base image and wheelhouse,
so the build is offline) -> pytest-docker's ``docker_services`` with its fixtures overridden for
``docker-compose`` v1 -> ``compose_cluster``. ``compose_teardown`` is set up before the project
starts and checks after ``down -v`` that nothing of it is left, taking the project down itself
when ``up`` failed half-way (pytest-docker only cleans up after a successful setup).

The project lives for its module only (pytest-docker's ``docker_services`` is session-scoped
unless ``--container-scope`` says otherwise; it is overridden here with module scope), so the
containers do not keep running, and costing CPU, while the rest of the suite runs.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from pytest_docker.plugin import Services, get_docker_services

from controlplane.etcd_process import free_port
from tests.compose.project import COMPOSE_FILE, ComposeProject, checkout_image_tag, run
from tests.support.manifests import REPO

SETUP_HINT = ("run scripts/setup-docker (as root) to install and start a Docker engine with "
              "docker-compose, or set KEMU_SKIP_COMPOSE=1 to skip the compose tests")
KUBELETS_AT_START = 3
_projects = itertools.count(1)


@pytest.fixture(scope="session")
def docker_engine() -> str:
    """The engine's version; fails (never skips silently) when the engine cannot be used."""
    if os.environ.get("KEMU_SKIP_COMPOSE") == "1":
        pytest.skip("KEMU_SKIP_COMPOSE=1: the docker compose tests were not run")
    missing = [tool for tool in ("docker", "docker-compose") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not found: {SETUP_HINT}", pytrace=False)
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                          capture_output=True, text=True, timeout=60, check=False)
    if info.returncode != 0 or not info.stdout.strip():
        pytest.fail(f"no Docker engine answers ({(info.stderr or info.stdout).strip()}): "
                    f"{SETUP_HINT}", pytrace=False)
    return info.stdout.strip()


@pytest.fixture(scope="session")
def compose_base_image(docker_engine: str) -> str:
    """compose/prepare.sh: the base image (built once per machine) and the wheelhouse."""
    result = subprocess.run([str(REPO / "compose" / "prepare.sh")], capture_output=True,
                            text=True, timeout=900, check=False)
    if result.returncode != 0:
        pytest.fail(f"compose/prepare.sh failed:\n{result.stderr}", pytrace=False)
    return result.stdout.split()[-1]


@pytest.fixture(scope="module")
def compose_project(compose_base_image: str) -> ComposeProject:
    return ComposeProject(name=f"kemutest{os.getpid()}m{next(_projects)}", settings={
        "KEMU_API_PORT": str(free_port()),
        "KEMU_TIMING_PROFILE": "fast",
        "KEMU_BASE_IMAGE": compose_base_image,
        "KEMU_IMAGE": checkout_image_tag(),
        # The wheelhouse makes the build offline; no network for its RUN steps proves it.
        "KEMU_BUILD_NETWORK": "none",
    })


# -- pytest-docker, overridden for docker-compose v1 --------------------------------------
@pytest.fixture(scope="module")
def docker_compose_command(compose_project: ComposeProject) -> str:
    return compose_project.command_line()


@pytest.fixture(scope="module")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="module")
def docker_compose_project_name(compose_project: ComposeProject) -> str:
    return compose_project.name


@pytest.fixture(scope="module")
def docker_setup() -> list[str]:
    # v1 has no --wait: `up -d` itself waits for etcd and the control plane to be healthy
    # (depends_on conditions) before it starts the kubelets.
    return [f"up -d --build --scale kubelet={KUBELETS_AT_START}"]


@pytest.fixture(scope="module")
def docker_cleanup() -> list[str]:
    return ["down -v --remove-orphans --timeout 10"]


@pytest.fixture(scope="module")
def docker_services(docker_compose_command: str, docker_compose_file: str,
                    docker_compose_project_name: str, docker_setup: list[str],
                    docker_cleanup: list[str]) -> Iterator[Services]:
    with get_docker_services(docker_compose_command, docker_compose_file,
                             docker_compose_project_name, docker_setup,
                             docker_cleanup) as services:
        yield services


# -- the module's cluster --------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose_teardown(compose_project: ComposeProject) -> Iterator[None]:
    """After everything else: nothing of the project may remain."""
    yield
    leftovers = compose_project.leftovers()
    if leftovers:
        # `up` failed half-way, so pytest-docker never ran its clean-up: show why, then clean.
        print(compose_project.logs())
        run(["docker-compose", "-f", str(COMPOSE_FILE), "-p", compose_project.name, "down",
             "-v", "--remove-orphans", "--timeout", "10"], env=compose_project.environment(),
            timeout=180, check=False)
    still = compose_project.leftovers()
    assert not still, f"docker-compose down -v left {still}"


@pytest.fixture(scope="module")
def compose_cluster(compose_teardown: None, compose_project: ComposeProject,
                    docker_services: Services) -> ComposeProject:
    """The running project: etcd and the control plane healthy, three kubelets started."""
    return compose_project


@pytest.fixture(autouse=True)
def compose_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed test prints the last lines of every container's log."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "compose_cluster" in request.fixturenames:
        project: ComposeProject = request.getfixturevalue("compose_project")
        print(project.logs())
