"""Rollout helpers after kubectl's polymorphichelpers: status viewers, history viewers and
rollbackers for Deployments (through their ReplicaSets) and DaemonSets and StatefulSets (through
their ControllerRevisions)."""
