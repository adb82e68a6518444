"""The last pass over the HTML an entry carries, so it passes the W3C validator's HTML checks.

The text stage has sanitized each item already (nh3: no script, no handlers, absolute links);
what remains are elements and attributes that sanitizer allows but the validator reports
(<bdo> is a SecurityRisk to it, <rtc> is "not HTML", a link with "|" or an Arabic path is an
InvalidUriChar), and items stored before a sanitizer change. This pass keeps only what both
accept, re-serializes with lxml (balanced, escaped) and writes every URL as a normal URI.
It must not make anything less safe: it only removes, renames or re-encodes.
"""

from __future__ import annotations

import re
from functools import lru_cache

import lxml.html
from lxml import etree

from aggregator.publish.uri import normal_uri

_ELEMENT_NAMES = (
    "a abbr acronym article aside b bdi blockquote br caption center cite code col colgroup "
    "data dd del details dfn div dl dt em figcaption figure h1 h2 h3 h4 h5 h6 hgroup hr i img "
    "ins kbd li mark ol p pre q rp rt ruby s samp small span strike strong sub summary sup "
    "table tbody td tfoot th thead time tr tt u ul var")
ALLOWED_ELEMENTS = frozenset(_ELEMENT_NAMES.split())
_ATTRIBUTE_NAMES = ("align alt char charoff cite colspan datetime dir headers height href "
                    "hreflang lang rel rowspan scope size span src start summary title width")
ALLOWED_ATTRIBUTES = frozenset(_ATTRIBUTE_NAMES.split())
_DROP_NAMES = ("script style iframe object embed applet noscript template svg math form "
               "frame frameset noframes head title meta link base select textarea button "
               "input param audio video source track canvas map area xmp plaintext")
DROPPED_WITH_CONTENT = frozenset(_DROP_NAMES.split())
URL_ATTRIBUTES = frozenset({"href", "src", "cite"})
# Void in HTML5; libxml2's HTML 4 parser nests what follows some of them (embed, source, wbr)
# inside, so their "children" are really their next siblings.
_VOID_NAMES = "area base br col embed hr img input keygen link meta param source track wbr"
VOID = frozenset(_VOID_NAMES.split())
RENAMED = {"bdo": "bdi"}  # bidi override -> isolation: the direction survives, the risk not
_FULL_DOCUMENT = re.compile(r"^\s*<(?:html|!doctype)", re.I)  # lxml.html does not wrap these


@lru_cache(maxsize=2048)
def safe_html(fragment: str) -> str:
    """`fragment` with only allowed elements and attributes, every URL a normal absolute
    http(s) URI (else dropped), balanced and escaped as HTML serializes it."""
    if not fragment.strip():
        return fragment
    root = _parse(fragment)
    _clean(root)
    inner = etree.tostring(root, method="html", encoding="unicode", with_tail=False)
    return inner[len(f"<{root.tag}>"):-len(f"</{root.tag}>")]


def _parse(fragment: str) -> lxml.html.HtmlElement:
    """The fragment's nodes under one element with no attributes, as
    lxml.html.fragment_fromstring(fragment, create_parent="div") places them (whitespace
    before the first element dropped), but under the parsed <body> itself: moving every node
    into a new element cost a third of this pass."""
    if not _FULL_DOCUMENT.match(fragment):
        document = etree.fromstring(f"<html><body>{fragment}</body></html>",
                                    lxml.html.html_parser)
        bodies = [e for e in document if e.tag == "body"]
        if len(bodies) == 1:
            body = bodies[0]
            if body.text is not None and not body.text.strip():
                body.text = None
            body.attrib.clear()  # a <body> in the fragment lends its attributes to this one
            return body
    return lxml.html.fragment_fromstring(fragment, create_parent="div")


def _clean(root: etree._Element) -> None:
    for node in list(root.iter()):
        if node is root:
            continue
        if not isinstance(node.tag, str):  # comments, processing instructions
            node.drop_tree()
            continue
        tag = node.tag.lower()
        if tag in VOID and (len(node) or node.text):
            _unnest(node)
        if tag in DROPPED_WITH_CONTENT:
            node.drop_tree()
            continue
        tag = RENAMED.get(tag, tag)
        node.tag = tag
        for name in list(node.attrib):
            if not _keep_attribute(node, name):
                del node.attrib[name]
        if tag == "img" and "src" not in node.attrib:
            node.drop_tree()
        elif tag not in ALLOWED_ELEMENTS or (tag == "a" and "href" not in node.attrib):
            node.drop_tag()  # <wbr> too: lxml would write it with an end tag


def _keep_attribute(node: etree._Element, name: str) -> bool:
    if name not in ALLOWED_ATTRIBUTES:
        return False
    if name in URL_ATTRIBUTES:
        uri = normal_uri(node.attrib[name])
        if uri is None or not uri.startswith(("http://", "https://", "mailto:")):
            return False
        node.attrib[name] = uri
    return True


def _unnest(node: etree._Element) -> None:
    """Move a void element's text and children after it, where the author put them."""
    parent = node.getparent()
    if parent is None:
        return
    index = parent.index(node)
    children = list(node)
    tail, node.tail, node.text = node.tail, node.text, None
    for offset, child in enumerate(children, 1):
        parent.insert(index + offset, child)
    end = parent[index + len(children)]
    end.tail = (end.tail or "") + (tail or "")
