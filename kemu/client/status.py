"""Carrying ApiError across gRPC: the ``kemu-status-bin`` trailer both sides agree on."""

from __future__ import annotations

from collections.abc import Iterable

import grpc

from kemu.api.errors import ApiError, Code, StatusCause
from kemu.v1 import api_pb2

STATUS_TRAILER = "kemu-status-bin"


def to_status(error: ApiError) -> api_pb2.Status:
    status = api_pb2.Status(code=int(error.code), reason=error.reason, message=error.message,
                            kind=error.kind, name=error.name)
    for cause in error.causes:
        status.causes.add(reason=cause.reason, message=cause.message, field=cause.field)
    return status


def from_status(status: api_pb2.Status) -> ApiError:
    return ApiError(Code(status.code), status.reason, status.message,
                    [StatusCause(c.reason, c.message, c.field) for c in status.causes],
                    kind=status.kind, name=status.name)


def to_trailer(error: ApiError) -> tuple[tuple[str, bytes]]:
    return ((STATUS_TRAILER, to_status(error).SerializeToString()),)


def from_rpc_error(error: grpc.RpcError) -> ApiError:
    """The ApiError a failed call carried, or one made from its gRPC status."""
    trailers: Iterable[tuple[str, str | bytes]] = ()
    if isinstance(error, grpc.aio.AioRpcError | grpc.Call):
        trailers = error.trailing_metadata() or ()
    for key, value in trailers:
        if key == STATUS_TRAILER and isinstance(value, bytes):
            return from_status(api_pb2.Status.FromString(value))
    code = error.code() if isinstance(error, grpc.Call | grpc.aio.AioRpcError) else None
    details = error.details() if isinstance(error, grpc.Call | grpc.aio.AioRpcError) else str(error)
    number = Code(code.value[0]) if code is not None else Code.UNKNOWN
    reason = "ServiceUnavailable" if number == Code.UNAVAILABLE else "InternalError"
    return ApiError(number, reason, details or str(error))
