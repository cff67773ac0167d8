"""Pod IPs from the node's pod CIDR, like CNI's host-local IPAM.

Addresses go round-robin from ``.2`` (``.1`` is the bridge), so a released address is reused
as late as possible; an address is unique among the node's live pods. After a kubelet restart
the addresses recorded in pod statuses are reserved again.
"""

from __future__ import annotations

import ipaddress


class AddressesExhaustedError(Exception):
    pass


class PodAddresses:
    def __init__(self, pod_cidr: str = ""):
        self._network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
        self._first = self._last = self._next = 0
        self._owners: dict[int, str] = {}
        self._by_owner: dict[str, int] = {}
        if pod_cidr:
            self.set_cidr(pod_cidr)

    @property
    def cidr(self) -> str:
        return str(self._network) if self._network else ""

    def set_cidr(self, pod_cidr: str) -> None:
        network = ipaddress.ip_network(pod_cidr, strict=False)
        if network == self._network:
            return
        self._network = network
        base = int(network.network_address)
        self._first = base + 2
        self._last = int(network.broadcast_address) - 1
        self._next = self._first

    def contains(self, address: str) -> bool:
        return self._network is not None and ipaddress.ip_address(address) in self._network

    def allocate(self, owner: str) -> str:
        """An address for ``owner`` (a pod UID); the same one if it has one already."""
        if owner in self._by_owner:
            return str(ipaddress.ip_address(self._by_owner[owner]))
        if self._network is None:
            raise AddressesExhaustedError("the node has no pod CIDR yet")
        size = self._last - self._first + 1
        for _ in range(size):
            candidate = self._next
            self._next = self._first if candidate >= self._last else candidate + 1
            if candidate not in self._owners:
                self._owners[candidate] = owner
                self._by_owner[owner] = candidate
                return str(ipaddress.ip_address(candidate))
        raise AddressesExhaustedError(f"no free pod address left in {self._network}")

    def reserve(self, owner: str, address: str) -> bool:
        """Keep ``address`` for ``owner`` (after a restart); False if it is not ours to keep."""
        if not address or not self.contains(address):
            return False
        value = int(ipaddress.ip_address(address))
        holder = self._owners.get(value)
        if holder is not None and holder != owner:
            return False
        self.release(owner)
        self._owners[value] = owner
        self._by_owner[owner] = value
        return True

    def release(self, owner: str) -> None:
        value = self._by_owner.pop(owner, None)
        if value is not None:
            self._owners.pop(value, None)

    def in_use(self) -> int:
        return len(self._owners)
