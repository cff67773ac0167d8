"""End-to-end tests: a control plane with every controller, real kubelet processes, kemuctl."""
