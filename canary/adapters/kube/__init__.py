"""Kubernetes workloads: the target and primary Deployments, their ConfigMaps and Secrets, the
generated Services, events and the Canary's own status.

The pure halves (``readiness``, ``revision``, ``primary``, ``services``) compute objects and
observations from plain dicts; the ``client`` module is the only one here that performs API calls.
"""
