"""The kopf operator: handlers, the per-canary loop and settings; the only kopf-aware code.

Handlers stay thin: parse -> observe (adapters) -> decide (core) -> act (adapters) -> one status
patch.  Domain errors are mapped to kopf's temporary/permanent errors here and nowhere else.
"""
