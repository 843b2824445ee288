"""canary: a progressive-delivery controller for Kubernetes.

The package is layered (see ``docs/architecture.md`` once the rollout engine lands and the
import-linter contracts in ``pyproject.toml``): ``models`` <- ``core`` <- ``adapters`` <- ``operator``,
with ``cli`` as the thin entry point on top.
"""

__version__ = "0.1.0"
