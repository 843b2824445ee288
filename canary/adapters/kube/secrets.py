"""Reading values out of a Secret object: ``stringData`` (as written) wins over ``data`` (base64),
values are stripped of surrounding whitespace (a trailing newline from ``echo`` is common).

Who calls this: the MetricTemplate credentials (``canary.adapters.metrics.analysis``), AlertProvider
addresses and tokens (``canary.adapters.notify``) and webhook tokens (``canary.adapters.webhooks``).
Only the keys asked for are decoded; a value that is not base64 text raises ``ValueError``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any


def secret_values(secret: Mapping[str, Any], keys: Iterable[str]) -> dict[str, str]:
    """The values of ``keys`` that the Secret holds, decoded and stripped."""
    data = secret.get("data") or {}
    plain = secret.get("stringData") or {}
    out: dict[str, str] = {}
    for key in keys:
        if key in plain:
            out[key] = str(plain[key]).strip()
        elif data.get(key):
            out[key] = base64.b64decode(data[key]).decode().strip()
    return out
