"""Prometheus metrics of the control plane (request counts and latencies, queue depths)."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

API_REQUESTS = Counter("kemu_apiserver_requests_total", "API requests", ["verb", "kind", "code"])
API_LATENCY = Histogram("kemu_apiserver_request_seconds", "API request latency", ["verb", "kind"],
                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
WORKQUEUE_DEPTH = Gauge("kemu_workqueue_depth", "Keys waiting in a controller's queue", ["name"])
WORKQUEUE_SYNCS = Counter("kemu_workqueue_syncs_total", "Controller syncs", ["name", "result"])
IS_LEADER = Gauge("kemu_leader", "1 while this control plane holds the leader lease")


def serve_metrics(listen: str) -> None:
    host, _, port = listen.rpartition(":")
    start_http_server(int(port), addr=host or "0.0.0.0")
    log.info("metrics on http://%s/metrics", listen)
