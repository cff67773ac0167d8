"""The API server: storage-backed registries per kind, the watch cache, and the gRPC services."""
