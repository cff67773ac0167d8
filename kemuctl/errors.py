"""The errors kemuctl prints, worded as kubectl words them.

``CliError`` is a client-side failure (``error: ...``); an ``ApiError`` from the server prints as
``Error from server (Reason): message``. Both end the command with exit code 1.
"""

from __future__ import annotations

from kemu.api.errors import ApiError


class CliError(Exception):
    """A failure kemuctl itself detected; printed as ``error: <message>``."""

    def __init__(self, message: str, *, prefix: str = "error: "):
        super().__init__(message)
        self.message = message
        self.prefix = prefix

    def __str__(self) -> str:
        return self.prefix + self.message


class Unreachable(Exception):
    """No server answered at the configured address."""


def server_error(error: ApiError, context: str = "") -> str:
    """``Error from server (NotFound): pods "x" not found``; ``context`` goes before the message
    (``error when creating "web.yaml": ``)."""
    reason = error.reason or "InternalError"
    return f"Error from server ({reason}): {context}{error.message}"


def unreachable_message(server: str) -> str:
    return (f"The connection to the server {server} was refused - did you specify the right "
            "host or port?")
