"""Where the load tester keeps its gates: on disk, or in a ConfigMap that every replica shares.

Flagger's load tester keeps gates in memory, so a restart closes every gate that was opened and two
replicas disagree.  Here every change is written through and every check reads the store, so a
restarted process or another replica sees the same gates.

Keys are ``gate/<namespace>/<name>`` and ``rollback/<namespace>/<name>``; a key present means open.

* ``FileStore``: one JSON file, replaced atomically (write a temporary file, rename), changes
  serialised with an advisory lock, so processes sharing the file (one volume) agree.
* ``ConfigMapStore``: a ConfigMap's ``data``; a change is a read-modify-replace carrying the
  resourceVersion read, retried on a conflict, so concurrent replicas never lose each other's change.
* ``MemoryStore``: for tests and for a deliberate ``--state memory``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


class StoreError(Exception):
    """The store cannot be read or written (a 503 for the caller, never a wrong answer)."""


class Store(Protocol):
    def is_open(self, key: str) -> bool: ...

    def set(self, key: str, opened: bool) -> None: ...

    def snapshot(self) -> dict[str, str]: ...


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._lock = threading.Lock()

    def is_open(self, key: str) -> bool:
        with self._lock:
            return key in self._data

    def set(self, key: str, opened: bool) -> None:
        with self._lock:
            if opened:
                self._data[key] = _stamp()
            else:
                self._data.pop(key, None)

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._data)


class FileStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = path.with_name(path.name + ".lock")
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise StoreError(f"cannot read the gate state {self.path}: {e}") from None
        if not isinstance(data, dict):
            raise StoreError(f"the gate state {self.path} is not a JSON object")
        return {str(k): str(v) for k, v in data.items()}

    def is_open(self, key: str) -> bool:
        return key in self._read()

    def snapshot(self) -> dict[str, str]:
        return self._read()

    def set(self, key: str, opened: bool) -> None:
        with self._locked():
            data = self._read()
            if opened:
                data[key] = _stamp()
            else:
                data.pop(key, None)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".gates-")
            try:
                with os.fdopen(fd, "w") as out:
                    json.dump(data, out, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except OSError as e:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise StoreError(f"cannot write the gate state {self.path}: {e}") from None


class ConfigMapStore:
    """Gates in ``data`` of a ConfigMap (created on the first change).  ConfigMap keys allow only
    ``[-._a-zA-Z0-9]``, so the ``/`` of a key is stored as ``..``: unambiguous, since neither a
    namespace nor an object name can hold two dots in a row."""

    def __init__(self, api: Any, namespace: str, name: str, *, attempts: int = 10) -> None:
        self.api, self.namespace, self.name, self.attempts = api, namespace, name, attempts

    @staticmethod
    def _key(key: str) -> str:
        return key.replace("/", "..")

    def _get(self) -> Any | None:
        from kubernetes.client import ApiException  # noqa: PLC0415 - only this store needs the client

        try:
            return self.api.read_namespaced_config_map(self.name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise StoreError(
                f"cannot read ConfigMap {self.namespace}/{self.name}: {e.status} {e.reason}"
            ) from None
        except OSError as e:
            raise StoreError(f"cannot reach the API server: {e}") from None

    def is_open(self, key: str) -> bool:
        found = self._get()
        return found is not None and self._key(key) in (found.data or {})

    def snapshot(self) -> dict[str, str]:
        found = self._get()
        return {k.replace("..", "/"): v for k, v in ((found.data or {}) if found else {}).items()}

    def set(self, key: str, opened: bool) -> None:
        from kubernetes.client import ApiException  # noqa: PLC0415

        stored = self._key(key)
        for _ in range(self.attempts):
            found = self._get()
            try:
                if found is None:
                    if not opened:
                        return
                    body = {"metadata": {"name": self.name}, "data": {stored: _stamp()}}
                    self.api.create_namespaced_config_map(self.namespace, body)
                    return
                data = dict(found.data or {})
                if opened:
                    data[stored] = _stamp()
                elif stored in data:
                    del data[stored]
                else:
                    return
                body = {
                    "metadata": {"name": self.name, "resourceVersion": found.metadata.resource_version},
                    "data": data,
                }
                self.api.replace_namespaced_config_map(self.name, self.namespace, body)
                return
            except ApiException as e:
                if e.status == 409:  # someone else changed it (or created it) first: read again
                    continue
                raise StoreError(
                    f"cannot write ConfigMap {self.namespace}/{self.name}: {e.status} {e.reason}"
                ) from None
            except OSError as e:
                raise StoreError(f"cannot reach the API server: {e}") from None
        raise StoreError(
            f"ConfigMap {self.namespace}/{self.name} kept changing; gave up after {self.attempts} tries"
        )
