"""Everything that talks to the world: one package per role, one module per implementation.

Roles (each behind a small ``typing.Protocol`` with an explicit registry that rejects unknown names):
``kube`` (workloads, services, HPA), ``routers`` (traffic shifting per provider), ``metrics``
(Prometheus and templates), ``webhooks``, ``notifiers`` and ``git``.  Adapters never decide; they
observe and execute actions that ``canary.core`` returned.
"""
