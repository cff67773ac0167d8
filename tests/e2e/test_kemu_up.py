"""``kemu up`` as a user runs it: a whole cluster started by one command in a terminal,
``kemu node ...`` acting on its node processes through the control socket, ``kemuctl`` talking
to it, and Ctrl-C (SIGINT to the terminal's foreground process group) tearing everything down
with no process left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.etcd_process import free_port
from kemu.api.errors import ApiError
from kemu.client.grpc_client import GrpcClient
from kemu.v1 import core_pb2
from tests.e2e.kit import (
    KEMU,
    KEMUCTL,
    condition,
    eventually,
    eventually_ready,
    run_command,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

NODES = ["node-1", "node-2", "node-3"]


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (children, their children ...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    return found


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, str, Path]]:
    """``kemu up --nodes 3`` in its own session, as a shell runs a foreground job."""
    folder, port = tmp_path / "up", free_port()
    output = tmp_path / "kemu-up.out"
    with open(output, "wb") as out:
        process = subprocess.Popen(
            [KEMU, "up", "--nodes", "3", "--timing-profile", "fast", "--port", str(port),
             "--dir", str(folder)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        yield process, folder, f"127.0.0.1:{port}", output
    finally:
        if process.poll() is None:
            left = descendants(process.pid)
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
            for pid in left:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        print(output.read_text(errors="replace")[-3000:])


async def kemu_node(folder: Path, *args: str, ok: bool = True) -> tuple[int, str, str]:
    code, out, err = await run_command([KEMU, "node", *args, "--dir", str(folder)],
                                       dict(os.environ))
    if ok:
        assert code == 0, (args, out, err)
    return code, out.strip(), err.strip()


async def node_pids(folder: Path) -> dict[str, tuple[str, str]]:
    """``kemu node list`` as {node: (process state, pid)}."""
    _, out, _ = await kemu_node(folder, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["NODE", "PROCESS", "PID"]
    return {name: (process, pid) for name, process, pid in (line.split() for line in lines[1:])}


async def until_ready_state(api: GrpcClient, name: str, wanted: str) -> None:
    async def check() -> bool:
        try:
            node = await api.get(core_pb2.Node, name)
        except ApiError as exc:
            raise AssertionError(str(exc)) from None
        ready = condition(node, "Ready")
        assert ready is not None and ready.status == wanted, ready
        return True
    await eventually(check, what=f"{name} Ready={wanted}")


async def test_kemu_up_node_commands_and_ctrl_c(
        up: tuple[subprocess.Popen[bytes], Path, str, Path]) -> None:
    process, folder, address, output = up
    async with GrpcClient(address) as api:
        async def serving() -> bool:
            assert process.poll() is None, output.read_text()
            try:
                nodes = (await api.list(core_pb2.Node)).items
            except ApiError as exc:
                raise AssertionError(f"the API does not answer yet: {exc}") from None
            ready = sorted(n.metadata.name for n in nodes if condition(n, "Ready") is not None
                           and condition(n, "Ready").status == "True")
            assert ready == NODES, ready
            return True
        await eventually(serving, timeout=90, interval=0.2, what="kemu up with 3 Ready nodes")
        assert f"kemu up: API on {address}" in output.read_text()
        code, out, err = await run_command([KEMUCTL, "--server", address, "get", "nodes"],
                                           dict(os.environ))
        assert code == 0, err
        assert [line.split()[:2] for line in out.splitlines()[1:]] == \
            [[name, "Ready"] for name in NODES]

        listed = await node_pids(folder)
        assert {name: process_state for name, (process_state, _) in listed.items()} == \
            dict.fromkeys(NODES, "running")

        # kill: SIGKILL, the node goes Unknown; restart brings it back.
        pid = int(listed["node-2"][1])
        _, out, _ = await kemu_node(folder, "kill", "node-2")
        assert out == f"node-2 killed with SIGKILL (pid {pid})"
        assert not alive(pid)
        assert (await node_pids(folder))["node-2"] == ("killed", "-")
        await until_ready_state(api, "node-2", "Unknown")
        _, out, _ = await kemu_node(folder, "restart", "node-2")
        assert out.startswith("node-2 restarted (pid ")
        await until_ready_state(api, "node-2", "True")

        # freeze: SIGSTOP, alive but silent; thaw brings it back.
        pid = int(listed["node-3"][1])
        _, out, _ = await kemu_node(folder, "freeze", "node-3")
        assert out == f"node-3 frozen with SIGSTOP (pid {pid})"
        await eventually(lambda: state(pid) == "T", what="node-3 stopped")
        await until_ready_state(api, "node-3", "Unknown")
        _, out, _ = await kemu_node(folder, "thaw", "node-3")
        assert out == f"node-3 thawed with SIGCONT (pid {pid})"
        await until_ready_state(api, "node-3", "True")

        # add: a fourth node, labelled.
        _, out, _ = await kemu_node(folder, "add", "--labels", "ssd=true")
        assert out.startswith("node-4 started (pid ")
        await eventually_ready(api, [*NODES, "node-4"])
        node = await api.get(core_pb2.Node, "node-4")
        assert node.metadata.labels["ssd"] == "true"

        code, _, err = await kemu_node(folder, "kill", "node-9", ok=False)
        assert code == 1
        assert err == "Error: no node named 'node-9'; known: node-1, node-2, node-3, node-4"

    # Ctrl-C with a node still frozen: everything goes, nothing is left behind.
    await kemu_node(folder, "freeze", "node-1")
    family = descendants(process.pid)
    kubelets = {int(pid) for _, pid in (await node_pids(folder)).values() if pid != "-"}
    assert kubelets <= family and len(family) >= len(kubelets) + 2  # + control plane, etcd
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(60) == 0
    assert [pid for pid in family if alive(pid)] == []
    assert output.read_text().rstrip().endswith(
        "kemu up: stopping nodes and the control plane")
    assert not (folder / "control.sock").exists()
