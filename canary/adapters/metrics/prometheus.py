"""Queries against Prometheus, through prometheus-api-client.

Who calls this: ``canary.adapters.metrics.analysis`` for each metric of a check, with the address and
credentials of the controller's ``--metrics-server`` or of a MetricTemplate's provider.

What it owns: turning Prometheus' answers into one number (an instant query) or one list of samples
(a range query), and its failures into the three outcomes the analysis tells apart:

* ``NoValues``: the query ran and selected nothing, or NaN (0/0: no requests).  No traffic yet.
* ``QueryFailed``: it did not run: bad PromQL, refused credentials, an answer that is not a result;
  ``ProviderUnavailable`` (a kind of it): the server did not answer in time, could not be reached, or
  answered 5xx.  The analysis holds on the latter (it is blind, not failing) and fails on the former.
* ``MultipleSeries``: it ran but gave several series where one number was needed (a query that
  forgot its ``sum``): a mistake in the query, reported as such rather than picking one.

Why it is built this way: a check must be quick and must never hang a tick, so retries are brief
(one retry, a short backoff) and every request has a timeout.  Credentials go into the session's
headers or basic auth and are never part of an error message; an address with a password in it is
shown without the password.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT_SECONDS = 5.0


class MetricsError(Exception):
    """A query that gave no usable value."""


class NoValues(MetricsError):
    """The query selected no data (or NaN): the workload is probably not receiving traffic."""


class QueryFailed(MetricsError):
    """The query could not run."""


class ProviderUnavailable(QueryFailed):
    """The server did not answer: unreachable, timed out, or a 5xx."""


class MultipleSeries(QueryFailed):
    """The query returned several series where one value was expected."""


def redact(address: str) -> str:
    """The address without a password in its userinfo."""
    parts = urlsplit(address)
    if parts.password is None:
        return address
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Endpoint:
    """Where and how to query: the provider part of a MetricTemplate, credentials resolved."""

    address: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    insecure_skip_verify: bool = False


class PrometheusProvider:
    """One Prometheus server."""

    def __init__(self, endpoint: Endpoint, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        headers = dict(endpoint.headers)
        if endpoint.token:
            headers["Authorization"] = f"Bearer {endpoint.token}"
        auth = (endpoint.username, endpoint.password or "") if endpoint.username else None
        self._client = PrometheusConnect(
            url=endpoint.address.rstrip("/"),
            headers=headers or None,
            disable_ssl=endpoint.insecure_skip_verify,
            retry=Retry(total=1, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
            auth=auth,
            timeout=timeout,
        )

    @property
    def where(self) -> str:
        return redact(self.endpoint.address)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            result = fn(*args, **kwargs)
        except PrometheusApiClientException as e:
            if "HTTP Status Code 5" in str(e):
                raise ProviderUnavailable(f"{self.where} is failing: {_short(str(e))}") from None
            raise QueryFailed(f"{self.where} refused the query: {_short(str(e))}") from None
        except requests.exceptions.RetryError:
            raise ProviderUnavailable(f"{self.where} is failing: it answered 5xx, retried") from None
        except requests.Timeout:
            raise ProviderUnavailable(f"{self.where} did not answer within {self.timeout:g}s") from None
        except requests.RequestException as e:
            raise ProviderUnavailable(f"{self.where} is unreachable: {type(e).__name__}") from None
        except ValueError as e:  # an answer that is not Prometheus JSON
            raise QueryFailed(f"{self.where} gave an answer that is not a Prometheus result: {e}") from None
        if not isinstance(result, list):
            raise QueryFailed(f"{self.where} returned a {type(result).__name__}, not a vector")
        return result

    def instant(self, query: str) -> float:
        """The value of ``query`` now: exactly one sample, a finite number."""
        series = self._call(self._client.custom_query, " ".join(query.split()))
        if not series:
            raise NoValues("the query selected no data")
        if len(series) > 1:
            raise _several(series)
        value = float(series[0]["value"][1])
        if math.isnan(value) or math.isinf(value):
            raise NoValues(f"the query returned {value}")
        return value

    def range(self, query: str, start: datetime, end: datetime, step_seconds: float) -> list[float]:
        """The samples of ``query`` from ``start`` to ``end``, one per step (NaN dropped later)."""
        series = self._call(
            self._client.custom_query_range,
            " ".join(query.split()),
            start_time=start,
            end_time=end,
            step=f"{step_seconds:g}s",
        )
        if not series:
            return []
        if len(series) > 1:
            raise _several(series)
        return [float(v) for _, v in series[0]["values"]]


def _several(series: list[dict[str, Any]]) -> MultipleSeries:
    return MultipleSeries(
        f"the query returned {len(series)} series ({_labels(series)}); aggregate it to one, e.g. sum(...)"
    )


def _labels(series: list[dict[str, Any]]) -> str:
    shown = [",".join(f"{k}={v}" for k, v in sorted(s.get("metric", {}).items())) or "{}" for s in series[:3]]
    return "; ".join(shown) + ("; ..." if len(series) > 3 else "")


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Providers:
    """Reuses one provider (and its connection pool) per endpoint, across ticks and threads."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._by_endpoint: dict[Endpoint, PrometheusProvider] = {}

    def get(self, endpoint: Endpoint) -> PrometheusProvider:
        with self._lock:
            provider = self._by_endpoint.get(endpoint)
            if provider is None:
                if len(self._by_endpoint) > 256:  # credentials rotate; do not keep old ones forever
                    self._by_endpoint.clear()
                provider = self._by_endpoint[endpoint] = PrometheusProvider(endpoint, timeout=self.timeout)
            return provider
