"""Prometheus metrics of one kubelet, served only when ``--metrics-listen`` is given.

The kubelet keeps plain counters on its objects; this collector reads them at scrape time, so
a kubelet without metrics never imports prometheus_client and a scrape costs nothing between
scrapes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from kubelet.server import Kubelet

log = logging.getLogger(__name__)


class KubeletCollector(Collector):
    def __init__(self, kubelet: Kubelet):
        self.kubelet = kubelet

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        k = self.kubelet
        node = [k.config.node_name]

        def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, text, labels=["node"])
            family.add_metric(node, value)
            return family

        def counter(name: str, text: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, text, labels=["node"])
            family.add_metric(node, value)
            return family

        yield gauge("kemu_kubelet_running_pods", "Pods this kubelet runs", k.pods.active_pods())
        yield gauge("kemu_kubelet_running_containers", "Containers running on this node",
                    k.pods.running_containers())
        yield gauge("kemu_kubelet_pod_addresses_in_use", "Pod IPs allocated on this node",
                    k.ctx.addresses.in_use())
        yield counter("kemu_kubelet_container_restarts", "Container restarts", k.ctx.restarts)
        yield counter("kemu_kubelet_pod_status_updates", "Pod status updates sent",
                      k.statuses.sent)
        yield counter("kemu_kubelet_events", "Events written", k.events.sent)
        yield counter("kemu_kubelet_lease_renewals", "Node lease renewals",
                      k.heartbeat.lease_renewals)
        yield counter("kemu_kubelet_lease_renewal_failures", "Failed node lease renewals",
                      k.heartbeat.lease_failures)
        yield counter("kemu_kubelet_node_status_updates", "Node status writes",
                      k.heartbeat.status_posts)
        yield counter("kemu_kubelet_registrations", "Node registrations",
                      k.heartbeat.registrations)
        yield counter("kemu_kubelet_pod_watch_reconnects", "Pod watch reconnections",
                      k.pods.reconnects)
        yield counter("kemu_kubelet_pod_watch_relists", "Pod watch restarts after too old",
                      k.pods.relists)
        yield counter("kemu_kubelet_control_plane_failovers", "Switches to another control plane",
                      k.client.failovers)


def serve_metrics(kubelet: Kubelet, listen: str) -> None:
    host, _, port = listen.rpartition(":")
    REGISTRY.register(KubeletCollector(kubelet))
    start_http_server(int(port), addr=host or "0.0.0.0")
    log.info("node=%s metrics on http://%s/metrics", kubelet.config.node_name, listen)
