"""The Deployment controller, after Kubernetes' ``pkg/controller/deployment``.

- ``controller``: informers, event handlers, adoption of ReplicaSets, the sync dispatch;
- ``sync``: the new ReplicaSet (creation, hash collisions, revisions), scaling events
  (proportional scaling), old-ReplicaSet cleanup, status;
- ``rolling`` and ``recreate``: the two strategies;
- ``progress``: the Progressing condition and the progress deadline;
- ``revisions``: revision annotations and revision history;
- ``replicasets`` and ``strategy``: the pure arithmetic (fenceposts, proportions, ordering);
- ``conditions``: condition reasons and setters; ``rollout``: one sync's writes.
"""

from controlplane.controllers.deployment import controller  # noqa: F401 - registers it
