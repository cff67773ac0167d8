"""The ``kemu`` command: runs cluster processes (control plane, kubelet, whole local clusters)."""
