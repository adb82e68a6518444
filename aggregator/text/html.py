"""HTML for republishing: sanitize with nh3 (used only here) and extract plain text.

Sanitized HTML never carries script, style, iframes, event handlers or javascript: URLs;
relative href/src are made absolute against the entry's base so readers can follow them.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

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
# A URL attribute we allow (href, src, cite) whose value does not start with an absolute
# http(s)/mailto URL. Possessive: an optional quote or space given back made the lookahead
# see the quote instead of "https:", so that every absolute link counted as relative (and
# built a cleaner for the item's own URL, ~40 µs each, most items in a first poll).
_RELATIVE = re.compile(r"""(?:href|src|cite)\s*+=\s*+(?:"\s*+|'\s*+|(?!["']))"""
                       r"""(?!https?:|mailto:)""", re.I)


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
    # A cleaner per base URL is costly to build and items rarely share one; most content
    # has only absolute links, and then one shared cleaner does.
    cleaner = _cleaner(base_url) if _RELATIVE.search(fragment) else _cleaner("")
    return cleaner.clean(fragment).strip()


def plain_text(fragment: str) -> str:
    """Visible text of an HTML fragment, entities decoded, whitespace collapsed."""
    if not fragment:
        return ""
    if "<" in fragment:
        fragment = _TAG.sub(" ", _BLOCK_END.sub(" ", fragment))
    return _SPACES.sub(" ", html.unescape(fragment)).strip()
