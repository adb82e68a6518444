"""Escaped HTML in a feed, checked as the validator checks it (SecurityRisk, SecurityRiskAttr,
DangerousStyleAttr, NotHtml, ContainsRelRef) plus well-formedness as an HTML5 parser in strict
mode would report it.

The element and attribute lists are ours and a subset of what the validator accepts: anything
outside them is reported, so the check errs on the strict side.
"""

from __future__ import annotations

import re
from html.entities import html5
from html.parser import HTMLParser

from feedcheck.common import HTML_ELEMENTS, absolute, uri_problem, words

SAFE_ELEMENTS = words("""
a abbr acronym address article aside audio b bdi big blockquote br caption center cite code
col colgroup data dd del details dfn div dl dt em figcaption figure font footer h1 h2 h3 h4 h5
h6 header hgroup hr i img ins kbd li main mark menu nav ol p picture pre q rp rt ruby s samp
section small source span strike strong sub summary sup table tbody td tfoot th thead time tr
track tt u ul var video wbr
""")
SAFE_ATTRIBUTES = words("""
abbr align alt autoplay axis bgcolor border cellpadding cellspacing char charoff cite class
clear color cols colspan compact coords datetime dir face headers height href hreflang hspace
id lang loop muted name noshade nowrap poster preload rel rev rows rowspan rules scope shape
size sizes span src srclang srcset start summary title type valign value vspace width xml:lang
xmlns
""")
VOID = words("area base br col embed hr img input link meta source track wbr")
# Elements whose end tag HTML lets the parser imply (no error when they are left open).
OPTIONAL_END = words("p li dt dd tr td th thead tbody tfoot option optgroup rp rt colgroup "
                     "caption")
SAFE_CSS = words("color background-color text-align direction font-weight font-style "
                 "text-decoration margin padding border width height")
_CSS_VALUE = re.compile(r"(#[0-9a-f]{3,6}|[a-z-]+|\d+(\.\d+)?(px|em|%|pt)?)", re.I)
URL_ATTRIBUTES = ("href", "src", "cite", "poster", "longdesc")
# An ampersand followed by a name or "#" that does not complete a character reference.
_LOOSE_AMPERSAND = re.compile(
    r"&(?!(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);)(?=[A-Za-z0-9#])")
SAFE_SCHEMES = ("http:", "https:", "mailto:")


def dangerous_style(style: str) -> str | None:
    """The part of a style attribute the validator would not accept (expression(), url(),
    unknown properties, anything beyond simple keywords, colours and lengths)."""
    for declaration in filter(None, (d.strip() for d in style.split(";"))):
        prop, sep, value = declaration.partition(":")
        if not sep or prop.strip().lower() not in SAFE_CSS:
            return declaration
        if not all(_CSS_VALUE.fullmatch(word) for word in value.split()):
            return declaration
    return None


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.found: list[tuple[str, str]] = []  # (code, detail)
        self.open: list[str] = []

    def error(self, code: str, detail: str) -> None:
        self.found.append((code, detail))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)
        if tag not in VOID:
            self.error("NotHtml", f"<{tag}/>: a non-void element cannot be self-closed")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.error("NotHtml", f"</{tag}>: end tag of a void element")
            return
        while self.open and self.open[-1] != tag and self.open[-1] in OPTIONAL_END:
            self.open.pop()
        if not self.open or self.open[-1] != tag:
            self.error("NotHtml", f"unexpected </{tag}> (open: {self.open})")
            if tag in self.open:
                while self.open.pop() != tag:
                    pass
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data:
            self.error("NotHtml", f"unescaped '<' in text: {data[:40]!r}")

    def handle_entityref(self, name: str) -> None:
        if f"{name};" not in html5:
            self.error("NotHtml", f"unknown entity &{name};")

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        except ValueError:
            self.error("NotHtml", f"bad character reference &#{name};")
            return
        if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF or 0x80 <= code <= 0x9F:
            self.error("NotHtml", f"character reference to U+{code:04X}")

    def handle_decl(self, decl: str) -> None:
        self.error("NotHtml", f"<!{decl}> in a fragment")

    def handle_pi(self, data: str) -> None:
        self.error("SecurityRisk", f"processing instruction <?{data[:20]}")

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_ELEMENTS and tag not in SAFE_ELEMENTS:
            self.error("NotHtml", f"non-HTML element <{tag}>")
        elif tag not in SAFE_ELEMENTS:
            self.error("SecurityRisk", f"<{tag}>")
        names = [name for name, _ in attrs]
        for name in {n for n in names if names.count(n) > 1}:
            self.error("NotHtml", f"duplicate attribute {name} on <{tag}>")
        for name, value in attrs:
            self._attribute(tag, name, value or "")

    def _attribute(self, tag: str, name: str, value: str) -> None:
        if name == "style":
            if (bad := dangerous_style(value)) is not None:
                self.error("DangerousStyleAttr", f"<{tag} style={bad!r}>")
            return
        if name not in SAFE_ATTRIBUTES and not name.startswith("data-"):
            self.error("SecurityRiskAttr", f"<{tag} {name}>")
            return
        if name in URL_ATTRIBUTES or name == "srcset":
            for url in (u.split()[0] for u in value.split(",") if u.strip()) \
                    if name == "srcset" else [value.strip()]:
                self._url(tag, name, url)

    def _url(self, tag: str, name: str, url: str) -> None:
        if not absolute(url):
            self.error("ContainsRelRef", f"<{tag} {name}={url!r}>")
        elif not url.lower().startswith(SAFE_SCHEMES):
            self.error("House:UnsafeScheme", f"<{tag} {name}={url!r}>")
        elif problem := uri_problem(url, full=True):
            self.error(problem[0], f"<{tag} {name}>: {problem[1]}")


def check_html(fragment: str) -> list[tuple[str, str]]:
    """(message code, detail) for every problem of an HTML fragment."""
    walker = _Walker()
    if "<?import" in fragment.lower():
        walker.error("SecurityRisk", "<?import")
    if match := _LOOSE_AMPERSAND.search(fragment):
        walker.error("NotHtml", f"'&' not ending in ';': {fragment[match.start():][:20]!r}")
    walker.feed(fragment)
    walker.close()
    if walker.rawdata:
        walker.error("NotHtml", f"unterminated markup: {walker.rawdata[:40]!r}")
    left = [tag for tag in walker.open if tag not in OPTIONAL_END]
    if left:
        walker.error("NotHtml", f"elements never closed: {left}")
    return walker.found
