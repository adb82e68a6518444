"""URIs as the feeds write them: ASCII, percent-encoded, in RFC 3986 normal form.

Sources hand us IRIs with Arabic paths, spaces, "|" and "[ ]" in queries and hosts in capitals;
the W3C validator rejects every character outside RFC 2396's set (InvalidUriChar, and
InvalidFullLink in RSS) and warns when an atom:id is not in normal form (NonCanonicalURI).
Pure string work; no I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

# Left as they are: RFC 2396's unreserved and reserved characters and "%" (the validator's
# URI alphabet). Everything else, non-ASCII included (as UTF-8), is percent-encoded.
_SAFE = "-_.!~*'();/?:@&=+$,%"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
WEB_SCHEMES = ("http", "https")
# What most links already are: http(s), a lower-case ASCII host without port or user, a path
# and maybe a query and a fragment of characters left as they are, no "%" escape. Such a URI
# is its own normal form, unless a segment is "." or ".." (looked for apart).
_CHARS = r"[A-Za-z0-9_.~!*'();:@&=+$,/-]"
_NORMAL = re.compile(rf"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*/{_CHARS}*"
                     rf"(?:\?(?:{_CHARS}|\?)+)?(?:#(?:{_CHARS}|\?)+)?")
_DOT_SEGMENT = re.compile(r"/\.\.?(?:[/?#]|$)")


@lru_cache(maxsize=4096)
def normal_uri(value: str) -> str | None:
    """`value` as an absolute URI in normal form, or None when it is not an absolute http(s),
    ftp or mailto URI (or cannot be encoded)."""
    if _NORMAL.fullmatch(value) and not _DOT_SEGMENT.search(value):
        return value
    return _normalized(value)


def _normalized(value: str) -> str | None:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return f"mailto:{_encode(parts.path)}" if parts.path else None
    if scheme not in (*WEB_SCHEMES, "ftp") or not parts.hostname:
        return None
    try:
        host = _host(parts)
    except (UnicodeError, ValueError):
        return None
    path = _remove_dot_segments(_encode(parts.path)) or "/"
    query = _encode(parts.query)
    fragment = _encode(parts.fragment)
    return urlunsplit(SplitResult(scheme, host, path, query, fragment))


def web_uri(value: str | None) -> str | None:
    """An http(s) URI for a link readers follow, or None (javascript:, data:, relative...)."""
    if not value:
        return None
    uri = normal_uri(value)
    return uri if uri and uri.startswith(("http://", "https://")) else None


def _host(parts: SplitResult) -> str:
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    elif not host.isascii():
        host = host.encode("idna").decode("ascii")
    host = host.rstrip(".") if host.count(".") > 1 else host
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    if parts.username is not None:
        userinfo = _encode(parts.username) + (f":{_encode(parts.password)}"
                                              if parts.password is not None else "")
        host = f"{userinfo}@{host}"
    return host


def _encode(text: str) -> str:
    """Percent-encode what RFC 2396 does not allow; normalize existing escapes (upper-case
    hex, unreserved characters decoded, a stray "%" encoded)."""
    text = _STRAY_PERCENT.sub("%25", text)
    text = quote(text, safe=_SAFE)
    return _PERCENT.sub(_normal_escape, text)


def _normal_escape(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else f"%{match.group(1).upper()}"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, for absolute paths."""
    if "." not in path:
        return path
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if path.endswith(("/.", "/..")):
        out.append("")
    return "/".join(out)
