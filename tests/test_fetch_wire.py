"""The fetch stage against a raw HTTP/1.1 server that writes exactly the bytes a test gives:
what the feed server cannot say (repeated fields, a bare status line, a cut-off body) and
what it cannot count (connections)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from aggregator.errors import FetchError
from aggregator.models import FetchResult, SourceState
from aggregator.pipeline.fetch import Fetcher


class RawServer:
    """Answers every request on 127.0.0.1 with `answer`'s bytes; counts connections."""

    def __init__(self, answer: bytes, *, close: bool = False,
                 tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer  # the whole response, status line to body
        self.close = close  # close the connection after answering
        self.tls = tls  # serve https with this context
        self.connections = 0  # connections accepted
        self.requests = 0  # requests answered
        self.request_lines: list[bytes] = []  # "GET /feed HTTP/1.1", as received

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):  # GETs carry no body
                self.requests += 1
                self.request_lines.append(head.split(b"\r\n", 1)[0])
                writer.write(self.answer)
                await writer.drain()
                if self.close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def run(self, client: Callable[[str], Awaitable[object]]) -> object:
        async def go() -> object:
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
            port = server.sockets[0].getsockname()[1]
            async with server:
                return await client(f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/feed")

        return asyncio.run(go())


def fetch_once(server: RawServer, **kw: object) -> FetchResult:
    async def client(url: str) -> FetchResult:
        async with Fetcher(**kw) as fetcher:  # type: ignore[arg-type]
            return await fetcher.fetch(SourceState("s", url))

    return server.run(client)  # type: ignore[return-value]


def test_a_304_keeps_its_connection_for_the_next_request() -> None:
    """The second poll is mostly 304s: each reusing its host's connection is most of
    what makes that poll cheap (bench/README.md)."""
    server = RawServer(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n')

    async def client(url: str) -> list[FetchResult]:
        async with Fetcher() as fetcher:
            return [await fetcher.fetch(SourceState("s", url, etag='"v1"')) for _ in range(5)]

    results = server.run(client)
    assert [r.status for r in results] == [304] * 5  # type: ignore[attr-defined]
    assert server.requests == 5 and server.connections == 1


def test_repeated_fields_are_joined() -> None:
    """A field sent twice means its values joined by commas (RFC 9110 §5.3)."""
    server = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: public\r\n"
                       b"cache-control: max-age=600\r\nETag: \"v2\"\r\n\r\nok")
    result = fetch_once(server)
    assert result.cache_control == "public, max-age=600"
    assert result.etag == '"v2"' and result.body == b"ok" and result.content_type is None


def test_a_status_line_without_a_reason_gets_the_standard_one() -> None:
    server = RawServer(b"HTTP/1.1 503 \r\nContent-Length: 0\r\nRetry-After: 60\r\n\r\n")
    with pytest.raises(FetchError,
                       match=r"^HTTP 503 Service Unavailable \(Retry-After: 60s\)$") as info:
        fetch_once(server)
    assert info.value.status == 503 and info.value.retry_after == 60


def test_a_body_cut_short_is_a_connection_error() -> None:
    server = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", close=True)
    with pytest.raises(FetchError) as info:
        fetch_once(server)
    assert info.value.connection and info.value.source_id == "s"
    assert str(info.value) == "the answer was cut off (received 7 of 100 bytes)"


@pytest.mark.parametrize(("answer", "said", "connection"), [
    (b"", "the server closed the connection without answering", True),
    (b"hello there\r\n\r\n", "not a valid HTTP answer: bad status line", False),
    (b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nx",
     "not a valid HTTP answer: invalid character in Content-Length", False),
    (b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 20_000 + b"\r\n\r\nx",
     "not a valid HTTP answer: got more than 8190 bytes when reading", False),
])
def test_a_broken_answer_is_named_on_one_line(answer: bytes, said: str,
                                               connection: bool) -> None:
    """What `poll` prints and `status` keeps: one line an operator can read, not aiohttp's
    several lines quoting the bytes. A server that answered, however badly, was reached:
    only a silent one may count towards "our network is down"."""
    with pytest.raises(FetchError) as info:
        fetch_once(RawServer(answer, close=True))
    assert str(info.value) == said
    assert info.value.connection is connection


# A self-signed certificate for 127.0.0.1 (openssl req -x509 -newkey ec -days 36500): no
# trust anchor vouches for it, so a verifying client must refuse it.
SELF_SIGNED = """\
-----BEGIN CERTIFICATE-----
MIIBjzCCATagAwIBAgIUW/DZy2SqzKgljmIUa9gWxMr5UawwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTEyOTE0MjMyN1oYDzIxMjYxMTA1
MTQyMzI3WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAT2qYjIGYQ7VjqO2wAJZ+44BGO8LJwQ4b9O8NeGuRT7qWD6sPrGsvpv
7ELHE1tLNocW5rLg8uyKQ88A1bfKP1PFo2QwYjAdBgNVHQ4EFgQUvaSPd4qD3QIM
1U2fro3qHhN/zAUwHwYDVR0jBBgwFoAUvaSPd4qD3QIM1U2fro3qHhN/zAUwDwYD
VR0TAQH/BAUwAwEB/zAPBgNVHREECDAGhwR/AAABMAoGCCqGSM49BAMCA0cAMEQC
ICIWg04J444RzVJHwizmcoBVSgsc9LCIs7+xa4DYV4wsAiBDVlwa9oqfSGKo2SxN
gNHIIyw1Ncd0457tG1j2W14ccw==
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEO69O4TcBbM4QEM3
fhhDsC4jnapk6e1cZCBoSVXDHaWhRANCAAT2qYjIGYQ7VjqO2wAJZ+44BGO8LJwQ
4b9O8NeGuRT7qWD6sPrGsvpv7ELHE1tLNocW5rLg8uyKQ88A1bfKP1PF
-----END PRIVATE KEY-----
"""


def test_an_untrusted_certificate_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "self-signed.pem"
    pem.write_text(SELF_SIGNED, encoding="ascii")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(pem)
    server = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", tls=tls)
    with pytest.raises(FetchError, match=r"cannot connect to 127\.0\.0\.1:\d+: TLS certificate "
                       r"not accepted: certificate verify failed: self-signed certificate$") \
            as info:
        fetch_once(server)
    assert info.value.connection and server.requests == 0


def test_the_environment_s_proxy_is_used_unless_no_proxy_exempts_the_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY / NO_PROXY as curl, requests and httpx read them: an operator behind a
    proxy sets them for cron or the service."""
    proxy = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied")
    direct = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ndirect")

    async def go() -> list[FetchResult]:
        servers = [await asyncio.start_server(s._handle, "127.0.0.1", 0) for s in (proxy, direct)]
        proxy_port, direct_port = (s.sockets[0].getsockname()[1] for s in servers)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        try:
            async with Fetcher() as fetcher:  # the environment is read once, here
                return [await fetcher.fetch(SourceState("s", "http://feeds.example/rss")),
                        await fetcher.fetch(SourceState("t", f"http://127.0.0.1:{direct_port}/"))]
        finally:
            for server in servers:
                server.close()

    through, around = asyncio.run(go())
    assert through.body == b"proxied" and around.body == b"direct"
    assert proxy.request_lines == [b"GET http://feeds.example/rss HTTP/1.1"]
    assert direct.request_lines == [b"GET / HTTP/1.1"]
