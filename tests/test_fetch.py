"""The fetch stage against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import errno
import gzip
import random
import socket
import ssl
import zlib
from types import SimpleNamespace

import aiohttp
import pytest
import yarl
from feedserver import FeedServer, Route

from aggregator import USER_AGENT
from aggregator.errors import FetchError
from aggregator.models import FetchResult, SourceState
from aggregator.pipeline.fetch import Fetcher, _client_message
from aggregator.pipeline.inflate import decoded

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def fetch(state: SourceState, **kw: object) -> FetchResult:
    async def go() -> FetchResult:
        async with Fetcher(**kw) as fetcher:  # type: ignore[arg-type]
            return await fetcher.fetch(state)

    return asyncio.run(go())


def test_plain_get_sends_polite_headers(feed_server: FeedServer) -> None:
    feed_server.route("/f", FEED, etag='"v1"', last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    result = fetch(SourceState("s", feed_server.url("/f")))
    assert result.status == 200 and result.body == FEED
    assert result.etag == '"v1"' and result.last_modified == "Tue, 24 Nov 2026 10:00:00 GMT"
    headers = feed_server.requests("/f")[0]
    assert headers["User-Agent"] == USER_AGENT and "aggregator/" in USER_AGENT
    assert "application/atom+xml" in headers["Accept"]
    assert "gzip" in headers["Accept-Encoding"] and "deflate" in headers["Accept-Encoding"]
    assert "If-None-Match" not in headers


def test_conditional_get_gives_304(feed_server: FeedServer) -> None:
    feed_server.route("/f", FEED, etag='"v1"', last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    state = SourceState("s", feed_server.url("/f"), etag='"v1"',
                        last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    result = fetch(state)
    assert result.not_modified and result.body is None
    sent = feed_server.requests("/f")[0]
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Tue, 24 Nov 2026 10:00:00 GMT"


def test_gzip_body_is_decoded(feed_server: FeedServer) -> None:
    feed_server.route("/f", FEED, gzip=True)
    assert fetch(SourceState("s", feed_server.url("/f"))).body == FEED


def test_raw_deflate_body_is_decoded(feed_server: FeedServer) -> None:
    raw = zlib.compressobj(wbits=-15)
    body = raw.compress(FEED) + raw.flush()
    feed_server.route("/f", Route(body=body, headers={"Content-Encoding": "deflate"}, raw=True))
    assert fetch(SourceState("s", feed_server.url("/f"))).body == FEED


def test_a_body_can_be_left_compressed_for_later(feed_server: FeedServer) -> None:
    """decode=False (the poller's fetcher): the gzip bytes as they came, to be decoded by
    `decoded` where the parsing happens, to the same body and hash; the cap on the wire
    still holds here."""
    feed_server.route("/f", Route(body=FEED, gzip=True))
    whole = fetch(SourceState("s", feed_server.url("/f")))
    left = fetch(SourceState("s", feed_server.url("/f")), decode=False)
    assert left.encoding == "gzip" and left.body_hash is None
    assert left.body == gzip.compress(FEED, mtime=0)
    assert decoded(left, 1 << 20) == whole and whole.encoding is None
    assert decoded(whole, 1 << 20) is whole
    with pytest.raises(FetchError, match="over the 64 bytes limit"):
        decoded(left, 64)
    feed_server.route("/big", Route(body=b"x" * 5000, gzip=True, raw=True,
                                    headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match=r"^the body is over the 4 KiB limit \(max_body_bytes\)$"):
        fetch(SourceState("s", feed_server.url("/big")), decode=False, max_body=4096)


def test_oversized_body_is_refused(feed_server: FeedServer) -> None:
    feed_server.route("/f", b"x" * 5000)
    with pytest.raises(FetchError) as info:
        fetch(SourceState("s", feed_server.url("/f")), max_body=4096)
    assert str(info.value) == "the body is over the 4 KiB limit (max_body_bytes)"


def test_compressed_bomb_is_stopped(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), mtime=0)  # 64 MiB inflated, ~64 KiB sent
    assert len(bomb) < 100_000
    feed_server.route("/f", Route(body=bomb, headers={"Content-Encoding": "gzip"}, raw=True))
    with pytest.raises(FetchError) as info:
        fetch(SourceState("s", feed_server.url("/f")), max_body=1024 * 1024)
    assert str(info.value) == "the body is over the 1 MiB limit once decompressed " \
                              "(max_body_bytes)"
    assert info.value.source_id == "s"


def test_a_body_that_inflates_past_the_cap_late_names_the_cap(feed_server: FeedServer) -> None:
    """900 KiB that do not compress, then zeros that do: the wire stays under the 1 MiB cap,
    and the inflated body passes it several chunks in, with little room left: the message
    names the cap, not the room that was left."""
    body = random.Random(7).randbytes(900 * 1024) + b"\0" * (600 * 1024)
    packed = gzip.compress(body, mtime=0)
    assert len(packed) < 1024 * 1024
    feed_server.route("/f", Route(body=packed, headers={"Content-Encoding": "gzip"}, raw=True))
    with pytest.raises(FetchError) as info:
        fetch(SourceState("s", feed_server.url("/f")), max_body=1024 * 1024)
    assert str(info.value) == "the body is over the 1 MiB limit once decompressed " \
                              "(max_body_bytes)"


@pytest.mark.parametrize("status", [500, 404, 403])
def test_http_error_status(feed_server: FeedServer, status: int) -> None:
    feed_server.route("/f", Route(status=status, body=b"oops"))
    with pytest.raises(FetchError, match=f"HTTP {status}") as info:
        fetch(SourceState("s", feed_server.url("/f")))
    assert info.value.status == status and not info.value.connection


def test_retry_after_is_read(feed_server: FeedServer) -> None:
    feed_server.route("/f", Route(status=503, headers={"Retry-After": "120"}))
    with pytest.raises(FetchError) as info:
        fetch(SourceState("s", feed_server.url("/f")))
    assert info.value.retry_after == 120
    assert str(info.value) == "HTTP 503 Service Unavailable (Retry-After: 120s)"


def test_a_host_that_answers_429_is_left_alone_for_its_retry_after(
        feed_server: FeedServer) -> None:
    """One Fetcher (one pass): after a 429 with Retry-After, the host's other URLs are not
    requested until that time has passed; another host is asked as usual."""
    feed_server.route("/busy", Route(status=429, headers={"Retry-After": "120"}))
    feed_server.route("/other", FEED)

    clock = [1000.0]

    async def go() -> tuple[FetchError, FetchError, FetchResult, FetchResult]:
        async with Fetcher(monotonic=lambda: clock[0]) as fetcher:
            with pytest.raises(FetchError) as first:
                await fetcher.fetch(SourceState("a", feed_server.url("/busy")))
            with pytest.raises(FetchError) as second:
                await fetcher.fetch(SourceState("b", feed_server.url("/other")))
            elsewhere = await fetcher.fetch(SourceState(
                "c", feed_server.url("/other").replace("127.0.0.1", "localhost")))
            clock[0] += 30
            with pytest.raises(FetchError, match="30s ago; left alone for 90s more"):
                await fetcher.fetch(SourceState("b", feed_server.url("/other")))
            clock[0] += 90
            again = await fetcher.fetch(SourceState("b", feed_server.url("/other")))
            return first.value, second.value, elsewhere, again

    first, second, elsewhere, again = asyncio.run(go())
    assert first.status == 429 and not first.deferred
    assert second.deferred and second.status is None and second.source_id == "b"
    assert second.retry_after == 120
    assert "127.0.0.1 answered HTTP 429 to another of its sources" in str(second)
    assert elsewhere.status == 200 and again.status == 200
    assert feed_server.hits("/other") == 2  # localhost's request and the one after the wait


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError) as info:
        fetch(SourceState("s", f"http://127.0.0.1:{port}/feed"))
    # the reason an operator looks up, not aiohttp's "ssl:default [Connect call failed ...]"
    assert str(info.value) == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert info.value.connection


def test_a_host_that_never_answers_times_out_connecting() -> None:
    """A listening socket whose backlog is full drops the next SYN: the connection never
    opens, as with a host that has gone quiet."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            with pytest.raises(FetchError) as info:
                fetch(SourceState("s", f"http://127.0.0.1:{port}/feed"), timeout=5.0,
                      connect_timeout=0.3)
        finally:
            for filler in fillers:
                filler.close()
    assert str(info.value) == "timed out connecting: no connection after 0.3s"
    assert info.value.connection


@pytest.mark.parametrize(("error", "said"), [
    (aiohttp.ClientConnectorDNSError(
        SimpleNamespace(host="news.example", port=443, ssl=True),
        socket.gaierror(socket.EAI_NONAME, "Name or service not known")),
     "cannot connect to news.example:443: host name not found (Name or service not known)"),
    (aiohttp.ClientConnectorError(SimpleNamespace(host="10.1.2.3", port=80, ssl=True),
                                  OSError(errno.EHOSTUNREACH, "Connect call failed")),
     "cannot connect to 10.1.2.3:80: no route to host"),
    (aiohttp.ClientConnectorError(SimpleNamespace(host="10.1.2.3", port=80, ssl=True),
                                  OSError("something odd")),
     "cannot connect to 10.1.2.3:80: something odd"),
    (aiohttp.ConnectionTimeoutError("Connection timeout to host http://10.1.2.3/feed"),
     "timed out connecting: no connection after 10s"),
])
def test_a_connection_failure_says_why(error: aiohttp.ClientError, said: str) -> None:
    """Name resolution, routing and a host that never answers fail without a loopback server
    to show them: aiohttp's errors are made here, as its connector raises them."""
    assert _client_message(error, connect_timeout=10.0) == said


def test_slow_response_times_out(feed_server: FeedServer) -> None:
    feed_server.route("/f", Route(body=FEED, delay=2.0))
    with pytest.raises(FetchError, match="timed out"):
        fetch(SourceState("s", feed_server.url("/f")), timeout=0.3)


def test_permanent_redirect_is_reported(feed_server: FeedServer) -> None:
    feed_server.route("/old", Route(status=301, headers={"Location": "/mid"}))
    feed_server.route("/mid", Route(status=308, headers={"Location": feed_server.url("/new")}))
    feed_server.route("/new", FEED)
    result = fetch(SourceState("s", feed_server.url("/old")))
    assert result.body == FEED and result.final_url == feed_server.url("/new")
    assert result.permanent_redirect == feed_server.url("/new")


def test_temporary_redirect_changes_nothing(feed_server: FeedServer) -> None:
    feed_server.route("/old", Route(status=301, headers={"Location": "/tmp"}))
    feed_server.route("/tmp", Route(status=302, headers={"Location": "/new"}))
    feed_server.route("/new", FEED)
    result = fetch(SourceState("s", feed_server.url("/old")))
    assert result.body == FEED and result.permanent_redirect is None


def test_redirect_loop_is_an_error(feed_server: FeedServer) -> None:
    feed_server.route("/a", Route(status=302, headers={"Location": "/b"}))
    feed_server.route("/b", Route(status=302, headers={"Location": "/a"}))
    with pytest.raises(FetchError, match="redirects"):
        fetch(SourceState("s", feed_server.url("/a")))


def test_every_fetcher_verifies_tls_with_one_context() -> None:
    """`run` makes a Fetcher per tick: they share one verifying context, aiohttp's, made once
    per process (reading the CA bundle again per tick cost 0.03-0.2 s and 2.3 MiB), and
    sharing never turns verification off."""

    async def contexts() -> list[ssl.SSLContext]:
        out = []
        for _ in range(2):
            async with Fetcher() as fetcher:
                connector = fetcher._session.connector  # type: ignore[union-attr]
                request = aiohttp.ClientRequest(  # what a https source's GET is given
                    "GET", yarl.URL("https://feeds.example/rss"), loop=asyncio.get_running_loop())
                out.append(connector._get_ssl_context(request))  # type: ignore[union-attr]
        return out

    first, second = asyncio.run(contexts())
    assert isinstance(first, ssl.SSLContext) and first is second
    assert first.verify_mode == ssl.CERT_REQUIRED and first.check_hostname
    assert first.cert_store_stats()["x509_ca"] > 0  # trust anchors loaded


def test_accept_encoding_is_only_what_we_decode(feed_server: FeedServer) -> None:
    """The HTTP library must not add br or zstd: its own decompression is off (so the body
    cap sees every byte) and _decoder knows gzip and deflate only."""
    feed_server.route("/f", FEED)
    fetch(SourceState("s", feed_server.url("/f")))
    assert feed_server.requests("/f")[0]["Accept-Encoding"] == "gzip, deflate"


def test_unknown_content_encoding_is_an_error(feed_server: FeedServer) -> None:
    feed_server.route("/f", Route(body=b"\x28\xb5\x2f\xfd", headers={"Content-Encoding": "zstd"},
                                  raw=True))
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'zstd'") as info:
        fetch(SourceState("s", feed_server.url("/f")))
    assert info.value.source_id == "s" and not info.value.connection


def test_no_cookie_is_carried_to_the_next_request(feed_server: FeedServer) -> None:
    """A pass shares one client: a cookie one source sets must not follow us to another
    (nor to the same host's next feed)."""
    feed_server.route("/a", Route(body=FEED, headers={"Set-Cookie": "sid=1; Path=/"}))
    feed_server.route("/b", FEED)

    async def go() -> None:
        async with Fetcher() as fetcher:
            await fetcher.fetch(SourceState("a", feed_server.url("/a")))
            await fetcher.fetch(SourceState("b", feed_server.url("/b")))
            await fetcher.fetch(SourceState("a", feed_server.url("/a")))

    asyncio.run(go())
    assert all("Cookie" not in sent for sent in feed_server.requests("/b") +
               feed_server.requests("/a"))
    assert len(feed_server.requests("/a")) == 2


def test_a_fetcher_made_outside_the_loop_works_inside_it(feed_server: FeedServer) -> None:
    """Poller makes its Fetcher through a factory; the HTTP session is made on entry, in
    the running loop, wherever the Fetcher itself was built."""
    feed_server.route("/f", FEED)
    fetcher = Fetcher()

    async def go() -> FetchResult:
        async with fetcher:
            return await fetcher.fetch(SourceState("s", feed_server.url("/f")))

    assert asyncio.run(go()).body == FEED
    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(fetcher.fetch(SourceState("s", feed_server.url("/f"))))
