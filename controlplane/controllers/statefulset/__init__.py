"""The StatefulSet controller, after Kubernetes' ``pkg/controller/statefulset``: pods with a
stable identity (name, hostname, claims), created, deleted and updated in order.

- ``identity``: names, ordinals, identity labels, the pods and claims a set makes;
- ``retention``: claim owner references for ``persistentVolumeClaimRetentionPolicy``;
- ``revisions``: ControllerRevisions (current, update, rollback, history limit);
- ``status``: pod states and the status counts;
- ``plan``: the ordering decisions of one sync, a pure function;
- ``podcontrol``: pods and claims through the API, with Kubernetes' events;
- ``pending``: writes the cache has not shown yet;
- ``controller``: informers, handlers and the sync.
"""
