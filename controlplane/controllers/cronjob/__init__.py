"""The CronJob controller, after Kubernetes' ``pkg/controller/cronjob``.

- ``controller``: informers, handlers and the sync;
- ``schedule``: cron parsing and the next firing time in a time zone;
- ``scheduling``: the most recent missed time, the deadline, the next wake-up;
- ``jobs``: Jobs made from the template, their names, end states and order;
- ``clock``: the injectable clock (wall, accelerated for tests, manual).
"""

from controlplane.controllers.cronjob import controller  # noqa: F401 - registers it
