"""The garbage collector: deletes objects whose owners are gone, and carries out foreground
and orphan deletion of owners (Kubernetes' ``pkg/controller/garbagecollector``).

``graph`` keeps the dependency graph of every object, fed by informers of every kind; the
``collector`` verifies against the API and deletes, orphans and removes finalizers.
"""
