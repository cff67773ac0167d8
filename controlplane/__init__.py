"""The kemu control plane: API server, scheduler, controllers and node lifecycle over etcd."""
