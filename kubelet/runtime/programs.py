"""Programs from the books' batch examples that end by themselves, and when.

The fake runtime runs no process, so a container whose command it does not understand runs
until stopped. That is right for servers, wrong for the one-shot programs the books' Jobs run
and expect to finish:

- ``kuard`` (Kubernetes: Up and Running, ch. 12) with ``--keygen-enable`` and
  ``--keygen-exit-on-complete`` generates ``--keygen-num-to-gen`` RSA keys, about one a
  second, or runs for ``--keygen-time-to-run`` seconds, whichever ends first, then exits with
  ``--keygen-exit-code`` (default 0). Without a limit, or with a work queue
  (``--keygen-memq-server``), it keeps running.
- MongoDB's ``mongosh`` and ``mongoimport`` (Kubernetes in Action 2nd ed., ch. 18) run a script
  or an import against a database kemu does not have; they exit 0 after ``CLIENT_SECONDS``.

Each returns ``(seconds, exit code)``, unscaled, or None when the program is not one of these.
"""

from __future__ import annotations

from collections.abc import Sequence

KEYGEN_SECONDS_PER_KEY = 1.0
CLIENT_SECONDS = 5.0
ONE_SHOT_CLIENTS = ("mongosh", "mongoimport")
_TRUE = ("", "true", "1", "t", "yes")


def _flags(args: Sequence[str]) -> dict[str, str]:
    """``--name=value``, ``--name value`` and bare ``--name`` (value "")."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-"):
            continue
        name, sep, value = arg.lstrip("-").partition("=")
        if not sep and i < len(args) and not args[i].startswith("-") and \
                not name.endswith(("enable", "enabled", "exit-on-complete")):
            value = args[i]
            i += 1
        found[name] = value
    return found


def _int(flags: dict[str, str], name: str) -> int:
    try:
        return int(flags.get(name, "0") or "0")
    except ValueError:
        return 0


def _kuard(args: Sequence[str]) -> tuple[float, int] | None:
    flags = _flags(args)
    enabled = any(flags.get(name, "false").lower() in _TRUE
                  for name in ("keygen-enable", "keygen-enabled") if name in flags)
    exits = "keygen-exit-on-complete" in flags and \
        flags["keygen-exit-on-complete"].lower() in _TRUE
    if not enabled or not exits or "keygen-memq-server" in flags:
        return None
    limits = []
    keys = _int(flags, "keygen-num-to-gen")
    if keys > 0:
        limits.append(keys * KEYGEN_SECONDS_PER_KEY)
    seconds = _int(flags, "keygen-time-to-run")
    if seconds > 0:
        limits.append(float(seconds))
    if not limits:
        return None
    return min(limits), _int(flags, "keygen-exit-code") % 256


def known_program(words: Sequence[str]) -> tuple[float, int] | None:
    """(seconds, exit code) of one of the programs above, or None."""
    if not words:
        return None
    name = words[0].rsplit("/", 1)[-1]
    if name == "kuard":
        return _kuard(words[1:])
    if name in ONE_SHOT_CLIENTS:
        return CLIENT_SECONDS, 0
    return None
