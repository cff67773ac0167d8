"""The Job controller and the TTL-after-finished controller, after Kubernetes'
``pkg/controller/job`` and ``pkg/controller/ttlafterfinished``.

- ``controller``: informers, event handlers, claiming pods, orphaned finalizers;
- ``sync``: one Job's sync (deciding the end, creating and deleting pods);
- ``accounting``: counting finished pods once, through the tracking finalizer; conditions;
- ``pods``, ``indexes``, ``backoff``, ``failurepolicy``, ``perindex``, ``conditions``,
  ``tracking``: the pure pieces;
- ``ttl``: deleting finished Jobs after ``ttlSecondsAfterFinished``.
"""

from controlplane.controllers.job import controller, ttl  # noqa: F401 - registers them
