"""One docker-compose (v1) project of compose/docker-compose.yml, as the compose tests drive it.

The settings (API port, timing profile, base image, image tag) are passed to every compose
command in its environment, never through this process's own environment, so the tests'
project cannot leak into anything else pytest runs. Containers are found by the labels compose
puts on them, and a kubelet container's node is named after its hostname.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.manifests import REPO

COMPOSE_FILE = REPO / "compose" / "docker-compose.yml"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def checkout_image_tag() -> str:
    """An image tag of this checkout: concurrent runs from other checkouts build their own."""
    digest = hashlib.sha1(str(REPO).encode()).hexdigest()[:10]
    return f"kemu:test-{digest}"


def run(args: list[str], *, env: Mapping[str, str] | None = None, timeout: float = 120.0,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output, so a failed step says why."""
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout,
                            check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}{result.stderr}")
    return result


@dataclass(frozen=True)
class ComposeProject:
    name: str
    settings: Mapping[str, str] = field(default_factory=dict)

    @property
    def server(self) -> str:
        """The API address published on the host."""
        return f"127.0.0.1:{self.settings['KEMU_API_PORT']}"

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.settings}

    def command_line(self) -> str:
        """``docker-compose`` with the settings, as a shell command (for pytest-docker)."""
        assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.settings.items()))
        return f"env {assignments} docker-compose"

    def compose(self, *args: str, timeout: float = 180.0) -> str:
        """Run ``docker-compose -f <file> -p <project> ARGS``; returns its output."""
        result = run(["docker-compose", "-f", str(COMPOSE_FILE), "-p", self.name, *args],
                     env=self.environment(), timeout=timeout)
        return result.stdout + result.stderr

    def containers(self, service: str = "", *, running_only: bool = True) -> list[str]:
        """Ids of this project's containers (of one service), oldest first."""
        args = ["docker", "ps", "--no-trunc", "--format", "{{.ID}}",
                "--filter", f"label={PROJECT_LABEL}={self.name}"]
        if service:
            args += ["--filter", f"label={SERVICE_LABEL}={service}"]
        if not running_only:
            args.append("--all")
        return list(reversed(run(args, timeout=30).stdout.split()))

    def inspect(self, container: str) -> dict[str, Any]:
        [details] = json.loads(run(["docker", "inspect", container], timeout=30).stdout)
        return dict(details)

    def node_name(self, container: str) -> str:
        """The Node a kubelet container registers: its hostname."""
        return str(self.inspect(container)["Config"]["Hostname"]).lower()

    def docker(self, *args: str, timeout: float = 60.0) -> str:
        return run(["docker", *args], timeout=timeout).stdout

    def leftovers(self) -> list[str]:
        """Containers, volumes and networks of this project that still exist."""
        label = f"label={PROJECT_LABEL}={self.name}"
        found: list[str] = []
        for what, args in (("container", ["ps", "--all", "--format", "{{.Names}}"]),
                           ("volume", ["volume", "ls", "--format", "{{.Name}}"]),
                           ("network", ["network", "ls", "--format", "{{.Name}}"])):
            names = run(["docker", *args, "--filter", label], timeout=30).stdout.split()
            found += [f"{what} {name}" for name in names]
        return found

    def logs(self, tail: int = 60) -> str:
        result = run(["docker-compose", "-f", str(COMPOSE_FILE), "-p", self.name, "logs",
                      "--no-color", f"--tail={tail}"], env=self.environment(), timeout=60,
                     check=False)
        return result.stdout + result.stderr
