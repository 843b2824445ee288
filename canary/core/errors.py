"""The domain's error taxonomy, shared by adapters and the operator (no I/O, no dependencies).

* ``InvalidSpec``: the user's spec cannot work (a field the provider needs is missing, say).  The
  operator reports it as Ready=False/InvalidSpec plus a Warning event naming the field, and retries
  at the next tick (a fixed spec recovers by itself).  ``Pruned`` is one: the API server dropped a
  field of a routing object because its CRD has no such field.
* ``ProviderUnavailable``: a remote (Prometheus, a webhook, the API server) did not answer; retried.
* ``NoValues``: a query answered with nothing (no traffic yet); counts as a failed check, never a pass.
* ``Conflict``: someone else changed the object meanwhile; retried with fresh data.
* ``MissingKind``: the API server does not serve a kind the Canary needs (its CRD is not installed);
  ``Forbidden``: RBAC does not allow the controller a verb on a kind.  Both name the kind and the verb
  and are reported as Ready=False (reason MissingKind or Forbidden) plus a Warning event, and retried
  at the next tick, so installing the CRD or granting the verb recovers by itself.
kopf's TemporaryError/PermanentError appear only in ``canary.operator``.
"""

from __future__ import annotations


class CanaryError(Exception):
    """Base of the domain errors."""


class InvalidSpec(CanaryError):
    """The spec cannot work; the message names the field (``spec.ingressRef: ...``)."""


class Pruned(InvalidSpec):
    """The API server dropped a field canary wrote (the installed CRD has no such field): what the
    spec asks for cannot be stored on this cluster.  Reported as InvalidSpec, naming the field."""

    def __init__(self, name: str, kind: str, path: str) -> None:
        super().__init__(
            f"{path} of {kind} {name} was dropped by the API server: the installed CustomResourceDefinition "
            "has no such field (an older version of it, or another channel?), so what the spec asks for "
            "there cannot work on this cluster"
        )
        self.name, self.kind, self.path = name, kind, path


class ProviderUnavailable(CanaryError):
    """A remote did not answer."""


class NoValues(CanaryError):
    """A query returned no samples."""


class Conflict(CanaryError):
    """The object changed under us."""


class NotFound(CanaryError):
    """The object a change was meant for does not exist (a 404 naming it)."""


class MissingKind(CanaryError):
    """The API server does not serve a kind (no such CRD); the message names the kind and the verb."""

    def __init__(self, kind: str, verb: str) -> None:
        super().__init__(
            f"{kind} is not served by the API server (is its CustomResourceDefinition installed?): "
            f"could not {verb} it"
        )
        self.kind, self.verb = kind, verb


class Forbidden(CanaryError):
    """RBAC forbids the controller a verb on a kind; the message names both and where."""

    def __init__(self, kind: str, verb: str, namespace: str | None) -> None:
        where = f" in namespace {namespace}" if namespace else ""
        super().__init__(
            f"the controller may not {verb} {kind}{where} (RBAC forbids it): grant the verb to its "
            "ServiceAccount"
        )
        self.kind, self.verb, self.namespace = kind, verb, namespace
