"""The DaemonSet controller: one daemon pod on every eligible node, rolled forward through
ControllerRevisions.

``eligibility`` decides which nodes a DaemonSet belongs on, ``template`` builds its pods,
``placement`` and ``rolling`` decide what to create and delete, ``status`` counts, ``revisions``
keeps the history and ``controller`` ties them to informers and the API.
"""
