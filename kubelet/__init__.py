"""The kemu kubelet: one OS process per emulated node (registration, heartbeats, fake pods).

It talks to the control plane only through the NodeAgent gRPC service and never imports the
control plane.
"""
