"""The scheduler: binds each pending pod to a node, the way kube-scheduler's default profile does.

``queue`` holds the pods waiting to be scheduled; ``cache`` keeps per-node bookkeeping (requests,
ports, pods) current from pod and node events, with pods the scheduler has just placed "assumed"
until the API confirms them; ``filters`` and ``scores`` are the default plugins; ``algorithm``
runs one scheduling attempt; ``diagnosis`` writes the FailedScheduling text; ``controller`` ties
it to the informers and the API.
"""
