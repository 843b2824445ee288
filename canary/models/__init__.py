"""Pydantic models that mirror the CustomResourceDefinitions in ``crds/``.

Who calls this: every other layer.  What it owns: field names (camelCase aliases), defaults and
clamps, in one place.  No I/O here; a test keeps these models and ``crds/*.yaml`` equal.
The Canary, MetricTemplate and AlertProvider models arrive with the rollout-engine issue.
"""
