"""Controllers in the client-go shape: informer -> work queue -> sync(key).

``machinery`` modules (informer, workqueue, expectations, events, base) are shared; each
controller is a module of its own and registers itself in ``registry.CONTROLLERS``.
"""
