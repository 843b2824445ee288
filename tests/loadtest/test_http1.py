"""The load generator's HTTP/1.1 client against a raw server on 127.0.0.1 that answers with
Content-Length, chunked and connection-framed bodies: every answer is read whole, kept-alive
connections are reused, ``Connection: close`` and HTTP/1.0 are honoured, garbage is an error."""

from __future__ import annotations

import asyncio

import pytest

from loadtest.generator import LoadSpec, run_load
from loadtest.http1 import Http1Pool, ProtocolError

ANSWERS = {
    b"/length": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"/chunked": b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4;x=y\r\nbusy\r\n3\r\n...\r\n0\r\nX-T: 1\r\n\r\n",
    b"/close": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    b"/old": b"HTTP/1.0 204 No Content\r\n\r\n",
    b"/eof": b"HTTP/1.1 200 OK\r\n\r\nuntil the end",
    b"/garbage": b"SMTP ready\r\n\r\n",
}


async def serve() -> tuple[asyncio.Server, int, list[int]]:
    connections: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ")[1]
                if b"Content-Length: " in head:
                    await reader.readexactly(int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]))
                writer.write(ANSWERS[path])
                await writer.drain()
                if path in (b"/close", b"/old", b"/eof", b"/garbage"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], connections


def test_bodies_framing_and_keep_alive() -> None:
    async def main() -> None:
        server, port, connections = await serve()
        base = f"http://127.0.0.1:{port}"
        for path, status, opened in (("/length", 200, 1), ("/chunked", 503, 1), ("/close", 200, 3)):
            pool = Http1Pool(base + path, "POST", {"X-A": "1"}, b"{}")
            before = len(connections)
            assert [await pool.send() for _ in range(3)] == [status] * 3
            assert len(connections) - before == opened, path
            await pool.aclose()
        for path, status in (("/old", 204), ("/eof", 200)):
            pool = Http1Pool(base + path)
            assert [await pool.send() for _ in range(2)] == [status] * 2
            await pool.aclose()
        with pytest.raises(ProtocolError, match=r"not an HTTP/1\.x status line"):
            await Http1Pool(base + "/garbage").send()
        server.close()

    asyncio.run(main())


def test_the_generator_counts_what_the_fast_client_saw() -> None:
    async def main() -> None:
        server, port, _ = await serve()
        report = await run_load(
            LoadSpec(f"http://127.0.0.1:{port}/chunked", rate=200, duration=0.5, concurrency=5)
        )
        assert report.sent == report.requested == 100
        assert report.errors == 100  # 503s
        assert report.statuses == {"503": 100}
        refused = await run_load(LoadSpec("http://127.0.0.1:9/", rate=50, duration=0.1))
        assert refused.statuses == {"ConnectionRefusedError": 5}
        server.close()

    asyncio.run(main())


def test_a_given_host_header_replaces_the_urls() -> None:
    """What a gateway routes by: ``headers: "Host: web.example"`` sends that one Host, not two."""

    async def main() -> list[bytes]:
        heads: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(ANSWERS[b"/close"])
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        for headers in ({"Host": "web.example"}, {}):
            pool = Http1Pool(f"http://127.0.0.1:{port}/", "GET", headers)
            assert await pool.send() == 200
            await pool.aclose()
        server.close()
        await server.wait_closed()
        return heads

    named, default = asyncio.run(main())

    def host_lines(head: bytes) -> list[bytes]:
        return [line for line in head.split(b"\r\n") if line.lower().startswith(b"host:")]

    assert host_lines(named) == [b"Host: web.example"]
    assert len(host_lines(default)) == 1
    assert host_lines(default)[0].startswith(b"Host: 127.0.0.1:")
