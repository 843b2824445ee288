"""The pure decision core: ``(spec, status, observations, now) -> (new status, actions)``.

Who calls this: ``canary.operator`` once per tick, after gathering observations through adapters.
Why pure: every rollout decision (weights, thresholds, strategies, the statistical judge) is then a
plain function that unit tests can drive exhaustively, with no cluster and no clock.  An
import-linter contract forbids kubernetes, httpx, kopf and Prometheus clients here.
"""
