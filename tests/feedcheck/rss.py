"""RSS 2.0 documents as the W3C Feed Validation Service checks them: the channel and item
elements, RFC 822 dates, guids, the atom:link rel="self" it asks for, HTML in descriptions, and
its "RSS Advisory Board profile" warnings about text that looks like markup."""

from __future__ import annotations

import re
from datetime import timedelta

from lxml import etree

from feedcheck.atom import check_link
from feedcheck.common import (
    ATOM,
    DC,
    Report,
    canonical_uri,
    duplicates,
    implausible,
    language_problem,
    looks_like_html,
    rfc822,
    uri_problem,
)
from feedcheck.html import check_html
from feedcheck.xmldoc import (
    Document,
    check_namespaces,
    check_text_nodes,
    check_xml_attributes,
)

CHANNEL = {"title", "link", "description", "language", "copyright", "managingEditor",
           "webMaster", "pubDate", "lastBuildDate", "category", "generator", "docs", "cloud",
           "ttl", "image", "rating", "textInput", "skipHours", "skipDays", "item"}
ITEM = {"title", "link", "description", "author", "category", "comments", "enclosure", "guid",
        "pubDate", "source"}
SINGLE = {"title", "link", "description", "language", "copyright", "managingEditor",
          "webMaster", "pubDate", "lastBuildDate", "generator", "docs", "cloud", "ttl", "image",
          "textInput", "comments", "guid", "source", "enclosure"}
PLAIN = {"title", "copyright", "category", "source"}  # nonhtml in the validator
RSS_AHEAD = timedelta(minutes=10)
# Core element, extension element that says the same: the validator's Duplicate*Semantics.
SAME_MEANING = {"author": f"{{{DC}}}creator", "category": f"{{{DC}}}subject",
                "pubDate": f"{{{DC}}}date", "guid": f"{{{ATOM}}}id", "source": f"{{{DC}}}source",
                "language": f"{{{DC}}}language", "copyright": f"{{{DC}}}rights"}
_PROFILE_MARKUP = re.compile(r"&#[x0-9]|<[/a-zA-Z]")


def check_rss(data: bytes, address: str, report: Report) -> None:
    doc = Document.parse(data, report)
    if doc is None:
        return
    rss = doc.root
    if rss.tag != "rss":
        report.add("InvalidNamespace" if etree.QName(rss).localname == "rss"
                   else "UndefinedElement", "root", str(rss.tag))
        return
    if rss.get("version") != "2.0":
        report.add("InvalidRSSVersion", "rss", str(rss.get("version")))
    check_namespaces(rss, report, atom=False)
    check_text_nodes(rss, report)
    check_xml_attributes(rss, report)
    lines = data.decode("utf-8", "replace").split("\n")
    channels = rss.findall("channel")
    if len(channels) != 1:
        report.add("MissingElement" if not channels else "DuplicateElement", "rss/channel")
    for channel in channels:
        _Rss(report, lines, address).channel(channel)


class _Rss:
    def __init__(self, report: Report, lines: list[str], address: str) -> None:
        self.report, self.lines, self.address = report, lines, address

    def channel(self, channel: etree._Element) -> None:
        report = self.report
        self._children(channel, "channel", CHANNEL)
        for name, code in (("title", "MissingTitle"), ("link", "MissingLink"),
                           ("description", "MissingDescription")):
            if channel.find(name) is None:
                report.add(code, f"channel/{name}")
        self._plain(channel.find("title"), "channel/title", blank=True)
        self._plain(channel.find("description"), "channel/description", blank=False)
        self._full_url(channel.find("link"), "channel/link")
        self._full_url(channel.find("docs"), "channel/docs")
        language = channel.find("language")
        if language is not None and (problem := language_problem((language.text or "").strip())):
            report.add("InvalidLanguage", "channel/language", problem)
        for name in ("pubDate", "lastBuildDate"):
            self._date(channel.find(name), f"channel/{name}")
        ttl = channel.find("ttl")
        if ttl is not None and not (ttl.text or "").strip().isdigit():
            report.add("InvalidPositiveInteger", "channel/ttl")
        links = channel.findall(f"{{{ATOM}}}link")
        if not any(link.get("rel") == "self" for link in links):
            report.add("MissingAtomSelfLink", "channel")
        for link in links:
            check_link(link, "channel/atom:link", report, in_entry=False)
            if link.get("rel") == "self" and \
                    canonical_uri(link.get("href") or "") != canonical_uri(self.address):
                report.add("SelfDoesntMatchLocation", "channel/atom:link", link.get("href", ""))
        seen_item = False
        for child in channel:
            if not isinstance(child.tag, str):
                continue
            if child.tag == "item":
                seen_item = True
            elif seen_item and child.tag in CHANNEL:
                report.add("MisplacedItem", f"channel/{child.tag}")
        items = channel.findall("item")
        guids = [(i.findtext("guid") or "").strip() for i in items if i.find("guid") is not None]
        for repeated in set(duplicates(guids)):
            report.add("DuplicateValue", "channel/item/guid", repeated)
        for n, item in enumerate(items, 1):
            self.item(item, f"channel/item[{n}]")

    def item(self, item: etree._Element, where: str) -> None:
        report = self.report
        self._children(item, where, ITEM)
        if item.find("title") is None and item.find("description") is None:
            report.add("ItemMustContainTitleOrDescription", where)
        self._plain(item.find("title"), f"{where}/title", blank=True)
        for category in item.findall("category"):
            self._plain(category, f"{where}/category", blank=True)
        self._full_url(item.find("link"), f"{where}/link")
        self._full_url(item.find("comments"), f"{where}/comments")
        self._date(item.find("pubDate"), f"{where}/pubDate")
        description = item.find("description")
        if description is not None:
            for code, detail in check_html(description.text or ""):
                report.add(code, f"{where}/description", detail)
        self._guid(item.find("guid"), where)
        source = item.find("source")
        if source is not None:
            self._plain(source, f"{where}/source", blank=False)
            url = source.get("url")
            if url is None:
                report.add("MissingAttribute", f"{where}/source", "url")
            elif problem := uri_problem(url, full=True):
                report.add(problem[0], f"{where}/source/@url", problem[1])
        for link in item.findall(f"{{{ATOM}}}link"):
            check_link(link, f"{where}/atom:link", report, in_entry=True)

    def _children(self, parent: etree._Element, where: str, allowed: set[str]) -> None:
        counts: dict[str, int] = {}
        for child in parent:
            if not isinstance(child.tag, str):
                continue
            path = f"{where}/{etree.QName(child).localname}"
            if etree.QName(child).namespace is None:
                if child.tag not in allowed:
                    self.report.add("UndefinedElement", path)
                counts[child.tag] = counts.get(child.tag, 0) + 1
                if child.tag in SINGLE and counts[child.tag] == 2:
                    self.report.add("DuplicateElement", path)
                for name in child.attrib:
                    if etree.QName(name).namespace not in (None, "http://www.w3.org/XML/1998/namespace"):
                        self.report.add("UseOfExtensionAttr", path, name)
        for core, extension in SAME_MEANING.items():
            if counts.get(core) and parent.find(extension) is not None:
                code = "DuplicateItemSemantics" if parent.tag == "item" else "DuplicateSemantics"
                self.report.add(code, where, f"{core} and {extension}")

    def _plain(self, element: etree._Element | None, where: str, *, blank: bool) -> None:
        """The validator's "nonhtml" (+ "nonblank") text, with the RSS profile's rule that
        text looking like markup be written with hexadecimal character references."""
        if element is None:
            return
        value = (element.text or "").strip()
        if blank and not value:
            self.report.add("NotBlank", where)
        if piece := looks_like_html(value):
            self.report.add("ContainsHTML", where, piece)
        elif _PROFILE_MARKUP.search(value):
            start = (element.sourceline or 1) - 1
            span = self.lines[start:start + value.count("\n") + 1]
            if not any("&#x" in line for line in span):
                self.report.add("CharacterData", where, value[:60])

    def _full_url(self, element: etree._Element | None, where: str) -> None:
        if element is None:
            return
        value = (element.text or "").strip()
        if problem := uri_problem(value, full=True):
            self.report.add(problem[0], where, problem[1])

    def _date(self, element: etree._Element | None, where: str) -> None:
        if element is None:
            return
        value = (element.text or "").strip()
        parsed = rfc822(value)
        if parsed is None:
            self.report.add("InvalidRFC2822Date", where, value)
        elif parsed[0]:
            self.report.add(parsed[0], where, value)
        elif implausible(parsed[1], RSS_AHEAD):
            self.report.add("ImplausibleDate", where, value)

    def _guid(self, guid: etree._Element | None, where: str) -> None:
        report = self.report
        if guid is None:
            report.add("MissingGuid", where)
            return
        value = (guid.text or "").strip()
        permalink = guid.get("isPermaLink", "true")
        if permalink not in ("true", "false"):
            report.add("InvalidBooleanAttribute", f"{where}/guid/@isPermaLink", permalink)
        if permalink == "true":
            if value.lower().startswith(("tag:", "urn:uuid:")):
                report.add("InvalidPermalink", f"{where}/guid", value)
            elif uri_problem(value, full=True):
                report.add("InvalidHttpGUID", f"{where}/guid", value)
        elif len(value) < 9 and value.isdigit():
            report.add("NotSufficientlyUnique", f"{where}/guid", value)
