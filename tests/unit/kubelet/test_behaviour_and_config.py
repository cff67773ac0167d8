"""The fake runtime's reading of commands and annotations, and the kubelet's flag parsers."""

from __future__ import annotations

import math

import pytest

from kubelet.config import ConfigError, parse_capacity, parse_labels, parse_taints
from kubelet.node import go_arch, node_ip_from_cidr
from kubelet.runtime.behaviour import Program, behaviour_of, parse_duration, parse_program
from kubelet.runtime.interface import ContainerConfigError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("argv", "program"), [
    (["sleep", "30"], Program(30, 0)),
    (["/bin/sleep", "1m"], Program(60, 0)),
    (["sh", "-c", "sleep 5"], Program(5, 0)),
    (["/bin/sh", "-c", "echo start; sleep 2 && exit 3"], Program(2, 3)),
    (["bash", "-c", "false"], Program(0, 1)),
    (["sh", "-c", "false || sleep 1"], Program(1, 0)),
    (["sh", "-c", "exec sleep 4"], Program(4, 0)),
    (["true"], Program(0, 0)),
    (["sleep", "infinity"], Program()),
    (["sh", "-c", "while true; do sleep 1; done"], Program()),
    (["nginx", "-g", "daemon off;"], Program()),
    (["sh", "-c", "mongosh db --file /dev/stdin <<EOF\nwhile (true) { x(); }\nEOF\nexit 3"],
     Program(5, 3)),
    (["sh", "-c", "cat <<-'END'\n\tsleep 100\n\tEND\nsleep 2"], Program()),
    (["sh", "-c", "true <<-'END'\n\tnot a statement\n\tEND\nsleep 2"], Program(2, 0)),
    (["mongoimport", "--collection", "q", "--file", "/q.json"], Program(5, 0)),
    (["/kuard", "--keygen-enable", "--keygen-exit-on-complete", "--keygen-num-to-gen=10"],
     Program(10, 0)),
    (["/kuard", "--keygen-enable", "--keygen-exit-on-complete", "--keygen-exit-code=1",
      "--keygen-num-to-gen=3"], Program(3, 1)),
    (["/kuard", "--keygen-enable", "--keygen-exit-on-complete", "--keygen-num-to-gen", "8",
      "--keygen-time-to-run=5"], Program(5, 0)),
    (["/kuard", "--keygen-enable", "--keygen-num-to-gen=10"], Program()),
    (["/kuard", "--keygen-enable", "--keygen-exit-on-complete",
      "--keygen-memq-server=http://queue:8080/memq/server"], Program()),
    ([], Program()),
])
def test_programs(argv: list[str], program: Program) -> None:
    assert parse_program(argv) == program


def test_durations() -> None:
    assert parse_duration("2.5") == 2.5
    assert parse_duration("1m30s") == 90
    assert parse_duration("500ms") == 0.5
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_annotations_apply_to_the_main_container_unless_suffixed() -> None:
    annotations = {"kemu.io/fail-after": "10", "kemu.io/exit-code": "4",
                   "kemu.io/ready-after.log": "3"}
    main = behaviour_of(["sleep", "100"], annotations, "web", True, 0.5)
    assert (main.exit_after, main.exit_code) == (5.0, 4)
    assert not main.scripted_readiness
    other = behaviour_of([], annotations, "log", False, 0.5)
    assert (other.exit_after, other.ready_after) == (math.inf, 1.5)
    assert other.scripted_readiness


def test_fail_after_only_matters_before_the_command_ends() -> None:
    early = behaviour_of(["sleep", "5"], {"kemu.io/fail-after": "3"}, "c", True, 1)
    assert (early.exit_after, early.exit_code) == (3, 1)
    late = behaviour_of(["sleep", "5"], {"kemu.io/fail-after": "30"}, "c", True, 1)
    assert (late.exit_after, late.exit_code) == (5, 0)


def test_crash_loop_and_sleep_exit_codes() -> None:
    assert behaviour_of([], {"kemu.io/crash-loop": "true"}, "c", True, 1).exit_after == 0
    assert behaviour_of(["sleep", "3"], {}, "c", True, 1).exit_code == 0
    assert behaviour_of(["sleep", "3"], {"kemu.io/exit-code": "9"}, "c", True, 1).exit_code == 9


def test_bad_annotation_is_a_container_config_error_naming_it() -> None:
    with pytest.raises(ContainerConfigError, match=r"kemu.io/ready-after.web: 'x' is not"):
        behaviour_of([], {"kemu.io/ready-after.web": "x"}, "web", True, 1)
    with pytest.raises(ContainerConfigError, match=r"kemu\.io/exit-code: 300 is not an exit code"):
        behaviour_of([], {"kemu.io/exit-code": "300"}, "web", True, 1)


def test_labels() -> None:
    assert parse_labels("zone=a, example.com/tier=gold,empty=") == {
        "zone": "a", "example.com/tier": "gold", "empty": ""}
    with pytest.raises(ConfigError, match="'zone' is not key=value"):
        parse_labels("zone")
    with pytest.raises(ConfigError, match="key 'bad key'"):
        parse_labels("bad key=1")
    with pytest.raises(ConfigError, match="value 'a b' of 'zone'"):
        parse_labels("zone=a b")


def test_taints_name_the_wrong_part() -> None:
    taints = parse_taints("dedicated=gpu:NoSchedule,spot:PreferNoSchedule")
    assert [(t.key, t.value, t.effect) for t in taints] == [
        ("dedicated", "gpu", "NoSchedule"), ("spot", "", "PreferNoSchedule")]
    with pytest.raises(ConfigError, match="effect 'NoSchedul' is not one of NoSchedule"):
        parse_taints("a=b:NoSchedul")
    with pytest.raises(ConfigError, match="'a=b' has no effect"):
        parse_taints("a=b")
    with pytest.raises(ConfigError, match="key 'b@d'"):
        parse_taints("b@d=x:NoExecute")
    with pytest.raises(ConfigError, match="value 'x y'"):
        parse_taints("k=x y:NoExecute")
    with pytest.raises(ConfigError, match="given twice"):
        parse_taints("k=1:NoExecute,k=2:NoExecute")


def test_capacity() -> None:
    assert parse_capacity("cpu=8,example.com/gpu=2") == {
        "cpu": "8", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi",
        "example.com/gpu": "2"}
    with pytest.raises(ConfigError, match=r"memory='8GB': quantities must match"):
        parse_capacity("memory=8GB")
    with pytest.raises(ConfigError, match="unknown resource 'gpus'"):
        parse_capacity("gpus=1")
    with pytest.raises(ConfigError, match=r"pods='1\.5': must be a whole number"):
        parse_capacity("pods=1.5")


def test_platform_names() -> None:
    assert go_arch("x86_64") == "amd64"
    assert go_arch("aarch64") == "arm64"
    assert node_ip_from_cidr("10.244.7.0/24") == "172.20.7.1"
    assert node_ip_from_cidr("10.245.7.0/24") == "172.21.7.1"
