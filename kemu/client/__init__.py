"""Clients of the kemu API: one interface, a gRPC implementation, and typed helpers."""

from kemu.client.interface import ApiClient, ListResult, WatchEvent

__all__ = ["ApiClient", "ListResult", "WatchEvent"]
