"""A TCP proxy on 127.0.0.1 in front of one real server, with a fault that can be switched at any time.

Who uses this: the fault suite (``bench/chaos.py``, and its small size in the test suite), between the
controller and each remote it talks to (the git remote, the webhook and notification receivers), so
that the real server stays as it is and only the path to it misbehaves, as a network or an overloaded
remote would:

* ``OPEN``: bytes go both ways untouched;
* ``DOWN``: nothing listens (connections are refused);
* ``HANG``: connections are accepted and read, and never answered (a remote that accepts TCP and
  never answers: only the client's own deadline ends the wait);
* ``SLOW``: bytes go both ways, each chunk from the server ``delay`` seconds late;
* ``RESET``: connections are accepted and reset at once (RST).

A mode applies at once to every connection, new or open (a keep-alive connection of an HTTP client
meets the fault too): ``DOWN`` closes the open ones, ``RESET`` resets them, ``HANG`` stops passing
their bytes.  ``accepted`` counts connections by the mode they met.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import Counter
from enum import StrEnum


class Mode(StrEnum):
    OPEN = "open"
    DOWN = "down"
    HANG = "hang"
    SLOW = "slow"
    RESET = "reset"


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], *, delay: float = 0.5) -> None:
        self.upstream = upstream
        self.delay = delay
        self.mode = Mode.OPEN
        self.accepted: Counter[Mode] = Counter()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._held: list[socket.socket] = []
        self._open: set[socket.socket] = set()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    # ------------------------------------------------------------------------------ control
    def start(self) -> FaultProxy:
        self._listen()
        return self

    def set(self, mode: Mode) -> None:
        with self._lock:
            previous, self.mode = self.mode, mode
        if mode is Mode.DOWN and previous is not Mode.DOWN:
            self._close_listener()
        elif mode is not Mode.DOWN and previous is Mode.DOWN:
            self._listen()
        if mode in (Mode.DOWN, Mode.RESET):
            self._break_open(mode)
        if mode is not Mode.HANG:
            self._release_held()

    def stop(self) -> None:
        self._stopping.set()
        self._close_listener()
        self._break_open(Mode.DOWN)
        self._release_held()

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        listener.listen(128)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="fault-proxy", daemon=True).start()

    def _close_listener(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _release_held(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            with contextlib.suppress(OSError):
                conn.close()

    # ------------------------------------------------------------------------------ serving
    def _accept(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: DOWN, or stopping
            with self._lock:
                mode = self.mode
                self.accepted[mode] += 1
            if mode is Mode.RESET:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif mode is Mode.HANG:
                with self._lock:
                    self._held.append(conn)
                threading.Thread(target=self._swallow, args=(conn,), daemon=True).start()
            else:
                threading.Thread(target=self._forward, args=(conn, mode), daemon=True).start()

    @staticmethod
    def _swallow(conn: socket.socket) -> None:
        """Read whatever comes and never answer, until the client gives up or the mode changes."""
        with contextlib.suppress(OSError):
            while conn.recv(65536):
                pass

    def _forward(self, conn: socket.socket, mode: Mode) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._open.add(conn)
        threading.Thread(target=self._pump, args=(conn, upstream, False), daemon=True).start()
        self._pump(upstream, conn, True)
        with self._lock:
            self._open.discard(conn)

    def _pump(self, source: socket.socket, sink: socket.socket, answers: bool) -> None:
        """Copy ``source`` to ``sink`` under the mode of the moment; ``answers``: server -> client."""
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                mode = self.mode
                if mode is Mode.HANG:
                    continue  # swallowed: the other side waits for ever (or for its own deadline)
                if mode in (Mode.RESET, Mode.DOWN):
                    break
                if mode is Mode.SLOW and answers:
                    time.sleep(self.delay)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            source.close()
            sink.close()

    def _break_open(self, mode: Mode) -> None:
        """Apply ``mode`` to the connections that are open now."""
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                if mode is Mode.RESET:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                else:
                    conn.shutdown(socket.SHUT_RDWR)
