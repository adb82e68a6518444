"""normal_uri's shortcut (a URI already in normal form is returned as it is) gives what the
full normalization gives, for links as sources write them and for random ones."""

from __future__ import annotations

import random

import pytest

from aggregator.publish import uri

LINKS = [
    "https://news.example/2026/11/24/story-1.html", "http://a.example/", "http://a.example",
    "https://a.example/p?q=1&r=2#top", "https://a.example/p?", "https://a.example/p#",
    "https://a.example/a/./b", "https://a.example/a/../b", "https://a.example/a/..",
    "https://a.example/a/.", "https://a.example/...", "https://a.example/a?x=/./",
    "https://A.example/", "HTTPS://a.example/", "https://a.example./x", "https://a.b.example./x",
    "https://a.example:443/x", "https://a.example:8443/x", "https://u:p@a.example/x",
    "https://a.example/%7euser", "https://a.example/%zz", "https://a.example/a b",
    "https://a.example/q?a=[1]|2", "https://a.example/#a#b", "https://a.example/p?a?b",
    "https://xn--mgbh0fb.example/", "https://مثال.example/مقال", " https://a.example/x ",
    "https://a.example/x\t", "ftp://a.example/f", "mailto:a@b.example", "javascript:x",
    "https://[::1]/x", "https://a_b.example/", "https://a.example/~a/!$&'()*+,;=:@",
]
ALPHABET = "aZ09-._~!*'();:@&=+$,/?#%[]| é\tA."


def _random_link(rng: random.Random) -> str:
    scheme = rng.choice(["http", "https", "HTTP", "ftp"])
    host = rng.choice(["a.example", "A.example", "a.b.example.", "a-b.example", "a.example:80"])
    rest = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12)))
    return f"{scheme}://{host}/{rest}"


def test_some_links_take_the_shortcut() -> None:  # else the tests below compare nothing
    assert sum(bool(uri._NORMAL.fullmatch(link)) for link in LINKS) >= 8


@pytest.mark.parametrize("link", LINKS)
def test_a_link_is_normalized_as_in_full(link: str) -> None:
    assert uri.normal_uri(link) == uri._normalized(link)


def test_random_links_are_normalized_as_in_full() -> None:
    rng = random.Random(5)
    links = [_random_link(rng) for _ in range(20_000)]
    assert sum(bool(uri._NORMAL.fullmatch(link)) for link in links) > 1000
    assert [uri.normal_uri(link) for link in links] == [uri._normalized(link) for link in links]
