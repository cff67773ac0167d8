"""What a fake container does: read from its command and the pod's ``kemu.io/`` annotations.

The rules are documented in docs/runtime.md. In short: ``sleep N`` (as the command, or in an
``sh -c`` script of ``sleep``/``exit``/``true``/``false``/``echo`` statements) exits after N
seconds, as do the books' one-shot programs (``kubelet.runtime.programs``); anything else runs
until stopped. Annotations add readiness, liveness, start-up and
failure behaviour. An un-suffixed annotation applies to the pod's main container;
``kemu.io/<knob>.<container>`` applies to the named container. Every duration is multiplied by
the timing profile's scale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubelet.runtime.interface import ContainerConfigError
from kubelet.runtime.programs import known_program

PREFIX = "kemu.io/"
KNOBS = ("ready-after", "not-ready-after", "fail-after", "exit-code", "crash-loop",
         "liveness-fail-after", "startup-after", "image-pull-error", "terminate-after")
SHELLS = ("sh", "bash", "ash", "dash", "zsh")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SEPARATORS = re.compile(r"(;|&&|\|\||\n)")
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
FOREVER = math.inf


def parse_duration(text: str) -> float:
    """Seconds from ``30``, ``2.5``, ``500ms``, ``1m30s``, ``2h``; raises ValueError."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pos, value = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            value += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise ValueError(f"{text!r} is not a duration (e.g. 30, 2.5, 500ms, 1m30s)") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a duration of zero or more seconds")
    return value


def _sleep_seconds(args: Sequence[str]) -> float:
    """GNU sleep: the sum of its arguments, each a number with an optional s/m/h/d suffix."""
    if not args:
        raise ValueError("sleep without an operand")
    total = 0.0
    for arg in args:
        if arg in ("infinity", "inf"):
            return FOREVER
        number, unit = (arg[:-1], arg[-1]) if arg[-1:] in "smhd" else (arg, "s")
        total += float(number) * _UNITS[unit]
    return total


@dataclass(frozen=True)
class Program:
    """How long the command runs by itself (inf: until stopped) and its exit code then."""

    runs_for: float = FOREVER
    exit_code: int = 0


def _statement(words: list[str]) -> tuple[float, int] | None:
    """(seconds, exit code) of one shell statement, or None if it is not understood."""
    while words and words[0] == "exec":
        words = words[1:]
    if not words:
        return 0.0, 0
    name = words[0].rsplit("/", 1)[-1]
    if name == "sleep":
        return _sleep_seconds(words[1:]), 0
    if name in ("true", ":"):
        return 0.0, 0
    if name == "false":
        return 0.0, 1
    if name == "echo":
        return 0.0, 0
    if name == "exit":
        return 0.0, int(words[1]) if len(words) > 1 else 0
    return known_program(words)


def parse_program(argv: Sequence[str]) -> Program:
    """The Program of a container's command line (see the module docstring)."""
    if not argv:
        return Program()
    name = argv[0].rsplit("/", 1)[-1]
    if name in SHELLS and len(argv) >= 3 and argv[1] == "-c":
        return _parse_script(argv[2])
    try:
        step = _statement(list(argv))
    except (ValueError, KeyError):
        return Program()
    if step is None or name == "exit":
        return Program()
    return Program(step[0], step[1])


def _without_here_documents(script: str) -> str:
    """The script with each here-document (``<<EOF`` ... ``EOF``) taken out: its body is the
    command's input, not statements. An unterminated one runs to the end, as in sh."""
    lines = script.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        match = _HEREDOC.search(line)
        if match is None:
            kept.append(line)
            continue
        kept.append(line[:match.start()] + line[match.end():])
        delimiter, strip_tabs = match.group(3), match.group(1) == "-"
        while i < len(lines):
            body = lines[i]
            i += 1
            if (body.lstrip("\t") if strip_tabs else body) == delimiter:
                break
    return "\n".join(kept)


def _parse_script(script: str) -> Program:
    elapsed, code, joiner = 0.0, 0, ";"
    for piece in _SEPARATORS.split(_without_here_documents(script)):
        if piece in (";", "&&", "||", "\n"):
            joiner = piece
            continue
        words = piece.split()
        if not words:
            continue
        if (joiner == "&&" and code != 0) or (joiner == "||" and code == 0):
            continue
        try:
            step = _statement(words)
        except (ValueError, KeyError, IndexError):
            return Program()
        if step is None:
            return Program()
        seconds, code = step
        elapsed += seconds
        if elapsed == FOREVER:
            return Program()
        if words[0] == "exit":
            break
    return Program(elapsed, code)


def annotation(annotations: Mapping[str, str], knob: str, container: str,
               main: bool) -> str | None:
    """The value of ``kemu.io/<knob>.<container>``, else (main container) ``kemu.io/<knob>``."""
    value = annotations.get(f"{PREFIX}{knob}.{container}")
    if value is None and main:
        value = annotations.get(PREFIX + knob)
    return value


@dataclass(frozen=True)
class Behaviour:
    """A container's scripted behaviour; durations in (scaled) seconds since it started."""

    exit_after: float = FOREVER
    exit_code: int = 0
    ready_after: float = 0.0
    not_ready_after: float = FOREVER
    liveness_fail_after: float = FOREVER
    startup_after: float = 0.0
    terminate_after: float = 0.0
    # Whether a readiness / liveness annotation was given (a probe is then implied).
    scripted_readiness: bool = False
    scripted_liveness: bool = False


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("", "false", "0", "no", "off")


def image_pull_error(annotations: Mapping[str, str], container: str, main: bool) -> str | None:
    value = annotation(annotations, "image-pull-error", container, main)
    if value is None or not _flag(value):
        return None
    return "" if value.strip().lower() in ("true", "1", "yes", "on") else value


def behaviour_of(argv: Sequence[str], annotations: Mapping[str, str], container: str, main: bool,
                 scale: float) -> Behaviour:
    """Read a container's behaviour; raises ContainerConfigError naming a bad annotation."""

    def duration(knob: str) -> float | None:
        raw = annotation(annotations, knob, container, main)
        if raw is None:
            return None
        try:
            return parse_duration(raw) * scale
        except ValueError as exc:
            raise ContainerConfigError(f"annotation {_key(annotations, knob, container)}: "
                                       f"{exc}") from None

    program = parse_program(argv)
    exit_after = program.runs_for * scale if program.runs_for != FOREVER else FOREVER
    exit_code = program.exit_code
    raw_code = annotation(annotations, "exit-code", container, main)
    given_code: int | None = None
    if raw_code is not None:
        try:
            given_code = int(raw_code)
        except ValueError:
            raise ContainerConfigError(f"annotation {_key(annotations, 'exit-code', container)}: "
                                       f"{raw_code!r} is not an integer exit code") from None
        if not 0 <= given_code <= 255:
            raise ContainerConfigError(f"annotation {_key(annotations, 'exit-code', container)}: "
                                       f"{given_code} is not an exit code (0-255)")
    fail_after = duration("fail-after")
    crash = annotation(annotations, "crash-loop", container, main)
    if crash is not None and _flag(crash):
        exit_after, exit_code = 0.0, 1
    elif fail_after is not None and fail_after < exit_after:
        exit_after, exit_code = fail_after, 1
    if given_code is not None:
        exit_code = given_code
    ready_after = duration("ready-after")
    not_ready_after = duration("not-ready-after")
    liveness = duration("liveness-fail-after")
    return Behaviour(
        exit_after=exit_after, exit_code=exit_code,
        ready_after=ready_after or 0.0,
        not_ready_after=FOREVER if not_ready_after is None else not_ready_after,
        liveness_fail_after=FOREVER if liveness is None else liveness,
        startup_after=duration("startup-after") or 0.0,
        terminate_after=duration("terminate-after") or 0.0,
        scripted_readiness=ready_after is not None or not_ready_after is not None,
        scripted_liveness=liveness is not None)


def _key(annotations: Mapping[str, str], knob: str, container: str) -> str:
    specific = f"{PREFIX}{knob}.{container}"
    return specific if specific in annotations else PREFIX + knob
