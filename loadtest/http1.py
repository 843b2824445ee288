"""A minimal HTTP/1.1 client on asyncio streams, for the load generator's plain-HTTP requests.

Why not httpx here: measured on this project's machine (docs/performance.md), one request through
``httpx.AsyncClient`` costs about 1,000 microseconds of CPU and through httpcore about 700, so one
core could not send more than about 1,000 requests per second; the same request over asyncio streams
costs about 90.  The generator needs 3,000 per second from one core, so for ``http://`` targets it
uses this client; ``https://`` targets (TLS, certificates) go through httpx.

What it does: one request at a time per connection, connections kept alive and reused (a pool as
large as the generator's concurrency), request bodies with Content-Length, response bodies framed by
Content-Length, chunked transfer encoding or the connection's end, and ``Connection: close``.  No
redirects, no proxies, no HTTP/2: a load generator measures the target, it does not browse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urlsplit

#: the largest response head accepted
MAX_HEAD = 65536


class ProtocolError(Exception):
    """The answer is not HTTP/1.1 this client understands."""


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.reusable = True

    def close(self) -> None:
        self.reusable = False
        self.writer.close()


class Http1Pool:
    """Keep-alive connections to one ``http://host:port``."""

    def __init__(
        self, url: str, method: str = "GET", headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain http URL: {url}")
        self.host, self.port = parts.hostname, parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.method = method.upper()
        given = {k.lower() for k in (headers or {})}
        lines = [f"{self.method} {path} HTTP/1.1"]
        if "host" not in given:  # a Host header given (a virtual host behind a gateway) replaces the URL's
            lines.append(f"Host: {parts.netloc.rpartition('@')[2]}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if "user-agent" not in given:
            lines.append("User-Agent: canary-loadtest")
        if body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        self._idle: list[Connection] = []

    async def _connect(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD)
        return Connection(reader, writer)

    async def send(self) -> int:
        """Send the request once; the response's status code (its body read and dropped)."""
        conn = self._idle.pop() if self._idle else await self._connect()
        try:
            conn.writer.write(self.request)
            status = await self._response(conn)
        except BaseException:
            conn.close()
            raise
        if conn.reusable:
            self._idle.append(conn)
        else:
            conn.close()
        return status

    async def _response(self, conn: Connection) -> int:
        reader = conn.reader
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            raise ProtocolError("the connection closed before an answer") from None
        except asyncio.LimitOverrunError:
            raise ProtocolError(f"the answer's head is larger than {MAX_HEAD} bytes") from None
        lines = head.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
        status = int(status_line[1])
        length: int | None = None
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif name == "connection" and "close" in value.lower():
                conn.reusable = False
        if status_line[0] == "HTTP/1.0":
            conn.reusable = False
        if self.method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return status
        if chunked:
            await self._chunks(reader)
        elif length is not None:
            await reader.readexactly(length)
        else:  # framed by the end of the connection
            await reader.read()
            conn.reusable = False
        return status

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> None:
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return
            await reader.readexactly(size + 2)

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
