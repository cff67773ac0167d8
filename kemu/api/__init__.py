"""The Kubernetes-shaped object model on top of the generated protobuf messages."""
