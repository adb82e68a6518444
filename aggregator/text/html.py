"""HTML for republishing: sanitize with nh3 (used only here) and extract plain text.

Sanitized HTML never carries script, style, iframes, event handlers or javascript: URLs;
relative href/src are made absolute against the entry's base so readers can follow them.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import nh3

_TAGS = set(nh3.ALLOWED_TAGS) - {"map", "area", "nav", "header", "footer"}
_ATTRIBUTES = {**{k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()},
               "*": {"dir", "lang", "title"}, "img": {"src", "alt", "width", "height"}}
_SCHEMES = {"http", "https", "mailto"}
# Removed with everything inside them, not just unwrapped.
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template",
                      "svg", "math", "form", "button", "select", "textarea"}
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</?(p|div|br|li|h[1-6]|tr|blockquote)\b[^>]*>", re.I)
_SPACES = re.compile(r"\s+")
# What follows a URL attribute's name (href, src, cite: the ones we allow): "=", an optional
# quote and spaces, and the value's first characters. Possessive, so that a quote or a space
# is never given back to be read as the value's start.
_URL_NAMES = ("href", "src", "cite")
_VALUE = re.compile(r"""\s*+=\s*+(?:"\s*+|'\s*+|(?!["']))([^\s"'>]{0,2})""")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:")
_PATH_START = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._~-")
# How much of the item's URL resolving a fragment's references needs, least first.
_NOTHING, _ORIGIN, _FOLDER, _ALL = range(4)


@lru_cache(maxsize=512)
def _cleaner(base_url: str) -> nh3.Cleaner:
    relative = ("rewrite_with_base", base_url) if base_url.startswith(("http://", "https://")) \
        else "deny"
    return nh3.Cleaner(tags=_TAGS, clean_content_tags=_DROP_WITH_CONTENT,
                       attributes=_ATTRIBUTES, url_schemes=_SCHEMES, url_relative=relative,
                       link_rel="noopener noreferrer", strip_comments=True)


def sanitize(fragment: str, base_url: str) -> str:
    """Safe HTML with absolute links; "" for empty input."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment and "&" not in fragment:
        return html.escape(fragment.strip(), quote=False)
    # A cleaner per base URL costs ~40 µs to build: one is shared by every fragment whose
    # references resolve the same against it (most have only absolute links: the shared one
    # that denies relative ones; "/img/1.jpg" needs only the site; "1.jpg" its folder).
    cleaner = _cleaner(_base_needed(fragment, base_url))
    return cleaner.clean(fragment).strip()


def _base_needed(fragment: str, base_url: str) -> str:
    """The shortest URL against which the fragment's URL attributes resolve as they do
    against `base_url`: "" when all are absolute, the origin when they are absolute paths
    ("/x", "//host/x"), the folder when they are relative paths ("x", "../x"), else all of
    it (a query, a fragment, an empty value, an entity or anything unusual: the value is
    read only as far as needed to be sure)."""
    low = fragment.lower()
    need = _NOTHING
    for name in _URL_NAMES:
        at = low.find(name)
        while at >= 0 and need < _ALL:
            found = _VALUE.match(low, at + len(name))
            if found:
                need = max(need, _kind(low, found.start(1), found.group(1)))
            at = low.find(name, at + 1)
    if need == _NOTHING or not base_url.startswith(("http://", "https://")):
        return "" if need == _NOTHING else base_url
    parts = urlsplit(base_url)
    if need == _ORIGIN:
        return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))
    if need == _FOLDER:
        return urlunsplit((parts.scheme, parts.netloc, parts.path[:parts.path.rfind("/") + 1],
                           "", ""))
    return base_url


def _kind(low: str, at: int, start: str) -> int:
    """What resolving the reference at `at` (lower-cased; `start`, its first characters)
    needs of the base URL."""
    if _SCHEME.match(low, at):
        return _NOTHING  # absolute: the base plays no part (its scheme may be refused)
    if start[:1] == "/":
        return _ORIGIN
    if start[:1] and start[0] in _PATH_START:
        return _FOLDER
    return _ALL


def plain_text(fragment: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace collapsed."""
    if not fragment:
        return ""
    if "<" in fragment:
        fragment = _TAG.sub(" ", _BLOCK_END.sub(" ", fragment))
    return _SPACES.sub(" ", html.unescape(fragment)).strip()
