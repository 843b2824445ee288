"""The domain's error taxonomy, shared by adapters and the operator (no I/O, no dependencies).

* ``InvalidSpec``: the user's spec cannot work (a field the provider needs is missing, say).  The
  operator reports it as Ready=False/InvalidSpec plus a Warning event naming the field, and retries
  at the next tick (a fixed spec recovers by itself).
* ``ProviderUnavailable``: a remote (Prometheus, a webhook, the API server) did not answer; retried.
* ``NoValues``: a query answered with nothing (no traffic yet); counts as a failed check, never a pass.
* ``Conflict``: someone else changed the object meanwhile; retried with fresh data.
kopf's TemporaryError/PermanentError appear only in ``canary.operator``.
"""

from __future__ import annotations


class CanaryError(Exception):
    """Base of the domain errors."""


class InvalidSpec(CanaryError):
    """The spec cannot work; the message names the field (``spec.ingressRef: ...``)."""


class ProviderUnavailable(CanaryError):
    """A remote did not answer."""


class NoValues(CanaryError):
    """A query returned no samples."""


class Conflict(CanaryError):
    """The object changed under us."""
