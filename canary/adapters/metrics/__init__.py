"""Metrics for the analysis: query rendering, the builtin queries per provider, Prometheus."""
