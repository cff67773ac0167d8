"""kemu: the shared package every kemu process uses.

It holds the API contract (generated from proto/ into ``kemu.v1``), the registry of kinds, the
manifest codec, label and field selectors, the API client and the timing profiles. It imports
none of the process packages (controlplane, kubelet, kemuctl, launcher).
"""
