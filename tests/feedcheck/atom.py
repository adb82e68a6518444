"""Atom 1.0 documents checked element by element, as the W3C Feed Validation Service walks
them (RFC 4287, RFC 5005's history elements), plus our house rules (permanent ids, absolute
links, updated not before published). Each finding names the validator's message class.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from lxml import etree

from feedcheck.common import (
    ATOM,
    HISTORY,
    XHTML,
    Report,
    absolute,
    addr_spec,
    canonical_uri,
    contains_email,
    duplicates,
    implausible,
    language_problem,
    looks_like_html,
    mime_type,
    rfc3339,
    uri_problem,
)
from feedcheck.html import check_html
from feedcheck.xmldoc import (
    Document,
    check_namespaces,
    check_text_nodes,
    check_xml_attributes,
)

A = f"{{{ATOM}}}"
FEED_METADATA = {"author", "category", "contributor", "generator", "icon", "id", "link", "logo",
                 "rights", "subtitle", "title", "updated"}
ENTRY_CHILDREN = {"author", "category", "content", "contributor", "id", "link", "published",
                  "rights", "source", "summary", "title", "updated"}
FEED_SINGLE = {"generator", "icon", "id", "logo", "rights", "subtitle", "title", "updated"}
ENTRY_SINGLE = {"content", "id", "published", "rights", "source", "summary", "title", "updated"}
TEXT_CONSTRUCTS = {"title", "subtitle", "rights", "summary", "content"}
ATTRIBUTES = {"link": {"href", "rel", "type", "hreflang", "title", "length"},
              "category": {"term", "scheme", "label"}, "generator": {"uri", "version"},
              "content": {"type", "src"}, "title": {"type"}, "subtitle": {"type"},
              "rights": {"type"}, "summary": {"type"}}
REGISTERED_RELS = {"alternate", "current", "describedby", "edit", "edit-media", "enclosure",
                   "first", "hub", "last", "license", "next", "next-archive", "payment",
                   "prev-archive", "previous", "related", "replies", "search", "self", "service",
                   "up", "via"}
HISTORY_RELS = {"current", "first", "last", "next", "next-archive", "prev-archive", "previous"}
SELF_TYPES = {"application/atom+xml", "application/rss+xml", "application/rdf+xml"}
# House rule: the ids we mint are permanent URIs of these schemes.
PERMANENT_ID = ("urn:uuid:", "tag:")
ATOM_AHEAD = timedelta(days=1)


def check_atom(data: bytes, address: str, report: Report) -> None:
    """Every rule for one Atom document served at `address`."""
    doc = Document.parse(data, report)
    if doc is None:
        return
    root = doc.root
    if root.tag != f"{A}feed":
        report.add("InvalidNamespace" if etree.QName(root).localname == "feed"
                   else "UndefinedElement", "root", str(root.tag))
        return
    check_namespaces(root, report, atom=True)
    check_text_nodes(root, report)
    check_xml_attributes(root, report)
    _Feed(root, address, report).check()


def _name(element: etree._Element) -> str:
    qname = etree.QName(element)
    prefix = {ATOM: "", HISTORY: "fh:", XHTML: "xhtml:"}.get(qname.namespace or "", "?:")
    return prefix + qname.localname


def _children(element: etree._Element) -> Iterator[etree._Element]:
    return (child for child in element if isinstance(child.tag, str))


class _Feed:
    """The checks of a feed (or, for atom:source, the metadata of one)."""

    def __init__(self, feed: etree._Element, address: str, report: Report) -> None:
        self.feed, self.address, self.report = feed, address, report

    def check(self) -> None:
        report, feed = self.report, self.feed
        self._metadata(feed, "feed", source=False)
        entries = [c for c in _children(feed) if c.tag == f"{A}entry"]
        if entries:
            first = list(_children(feed)).index(entries[0])
            for late in list(_children(feed))[first:]:
                if late.tag != f"{A}entry" and late.tag.startswith(A):
                    report.add("MisplacedMetadata", f"feed/{_name(late)}")
        feed_author = feed.find(f"{A}author") is not None
        ids = [e.findtext(f"{A}id") or "" for e in entries]
        for repeated in set(duplicates(ids)):
            report.add("DuplicateEntries", "feed/entry/id", repeated)
        if len(entries) > 9 and len(set(ids)) == 1:
            report.add("DuplicateIds", "feed/entry/id", ids[0])
        updated = [(e.findtext(f"{A}updated") or "").strip() for e in entries]
        for repeated in set(duplicates(u for u in updated if u)):
            report.add("DuplicateUpdated", "feed/entry/updated", repeated)
        for i, entry in enumerate(entries, 1):
            _Entry(entry, f"feed/entry[{i}]", report, feed_author).check()
        self._history()

    def _metadata(self, feed: etree._Element, where: str, *, source: bool) -> None:
        report = self.report
        counts: dict[str, int] = {}
        for child in _children(feed):
            name = _name(child)
            path = f"{where}/{name}"
            if child.tag.startswith(A):
                local = etree.QName(child).localname
                allowed = FEED_METADATA | (set() if source else {"entry"})
                if local not in allowed:
                    report.add("UndefinedElement", path)
                    continue
                counts[local] = counts.get(local, 0) + 1
                if local in FEED_SINGLE and counts[local] == 2:
                    report.add("DuplicateElement", path)
                if local != "entry":
                    check_element(child, path, report, in_entry=False)
            elif child.tag.startswith(f"{{{HISTORY}}}") and (
                    source or etree.QName(child).localname not in ("archive", "complete")):
                report.add("UndefinedElement", path)
        missing = "MissingSourceElement" if source else "MissingElement"
        for required in ("title", "id", "updated"):
            if not counts.get(required):
                report.add(missing, f"{where}/{required}")
        links = feed.findall(f"{A}link")
        if not source and not any(link.get("rel") == "self" for link in links):
            report.add("MissingSelf", where)
        if not source:
            for link in links:
                if link.get("rel") == "self" and link.get("href") is not None:
                    self._self(link.get("href") or "", where)
        _duplicate_alternates(links, where, report)

    def _self(self, href: str, where: str) -> None:
        if not absolute(href):
            self.report.add("RelativeSelf", f"{where}/link[@rel=self]", href)
        elif canonical_uri(href) != canonical_uri(self.address):
            self.report.add("SelfDoesntMatchLocation", f"{where}/link[@rel=self]",
                            f"{href} served at {self.address}")

    def _history(self) -> None:
        report, feed = self.report, self.feed
        rels = {link.get("rel", "alternate"): link.get("href") for link in feed.findall(f"{A}link")}
        archive = feed.find(f"{{{HISTORY}}}archive") is not None
        complete = feed.find(f"{{{HISTORY}}}complete") is not None
        if archive and not complete:
            if not ({"prev-archive", "next-archive"} & rels.keys()):
                report.add("ArchiveIncomplete", "feed/fh:archive")
            if "current" not in rels:
                report.add("MissingCurrentInArchive", "feed/fh:archive")
        if complete:
            for rel in HISTORY_RELS & rels.keys():
                if rel != "current":
                    report.add("FeedRelInCompleteFeed", "feed/link", rel)
                elif canonical_uri(rels[rel] or "") != canonical_uri(self.address):
                    report.add("CurrentNotSelfInCompleteFeed", "feed/link")
        here = canonical_uri(self.address)
        for end, beyond in (("first", "previous"), ("last", "next")):
            if rels.get(end) and canonical_uri(rels[end] or "") == here and beyond in rels:
                report.add("LinkPastEnd", "feed/link", f"{end} is self and has {beyond}")


class _Entry:
    def __init__(self, entry: etree._Element, where: str, report: Report,
                 feed_author: bool) -> None:
        self.entry, self.where, self.report, self.feed_author = entry, where, report, feed_author

    def check(self) -> None:
        entry, where, report = self.entry, self.where, self.report
        counts: dict[str, int] = {}
        for child in _children(entry):
            path = f"{where}/{_name(child)}"
            if not child.tag.startswith(A):
                report.add("UndefinedElement", path)
                continue
            local = etree.QName(child).localname
            if local not in ENTRY_CHILDREN:
                report.add("UndefinedElement", path)
                continue
            counts[local] = counts.get(local, 0) + 1
            if local in ENTRY_SINGLE and counts[local] == 2:
                report.add("DuplicateElement", path)
            if local == "source":
                _Feed(child, "", report)._metadata(child, path, source=True)
            else:
                check_element(child, path, report, in_entry=True)
        for required in ("title", "id", "updated"):
            if not counts.get(required):
                report.add("MissingElement", f"{where}/{required}")
        source_author = entry.find(f"{A}source/{A}author") is not None
        if not counts.get("author") and not self.feed_author and not source_author:
            report.add("MissingElement", f"{where}/author")
        self._content(counts)
        links = entry.findall(f"{A}link")
        _duplicate_alternates(links, where, report)
        self._dates()

    def _content(self, counts: dict[str, int]) -> None:
        entry, where, report = self.entry, self.where, self.report
        content = entry.find(f"{A}content")
        has_alternate = any(link.get("rel", "alternate") == "alternate"
                            for link in entry.findall(f"{A}link"))
        if content is None:
            if not counts.get("summary"):
                report.add("MissingTextualContent", where)
            if not has_alternate:
                report.add("MissingContentOrAlternate", where)
            return
        kind = content.get("type", "text")
        textual = kind in ("text", "html", "xhtml") or kind.endswith(("+xml", "/xml")) \
            or kind.startswith("text/")
        if not counts.get("summary") and (content.get("src") is not None or not textual):
            report.add("MissingSummary", where)

    def _dates(self) -> None:
        published = rfc3339((self.entry.findtext(f"{A}published") or "").strip())
        updated = rfc3339((self.entry.findtext(f"{A}updated") or "").strip())
        if published and updated and updated < published:
            self.report.add("House:UpdatedBeforePublished", self.where,
                            f"{updated} < {published}")


def _duplicate_alternates(links: list[etree._Element], where: str, report: Report) -> None:
    keys = [(link.get("type", ""), link.get("hreflang", "")) for link in links
            if link.get("rel", "alternate") == "alternate"]
    for key in set(duplicates(f"{t} {h}" for t, h in keys)):
        report.add("DuplicateAtomLink", f"{where}/link", key)


# -- one element --------------------------------------------------------------------------------

def check_element(element: etree._Element, where: str, report: Report, *, in_entry: bool) -> None:
    """The rules of one Atom element (not feed, entry or source)."""
    local = etree.QName(element).localname
    _attributes(element, local, where, report)
    if local in TEXT_CONSTRUCTS:
        text_construct(element, where, report)
    elif local in ("author", "contributor"):
        _person(element, where, report)
    elif local == "link":
        check_link(element, where, report, in_entry=in_entry)
    elif local == "category":
        _category(element, where, report)
    elif local == "generator":
        _generator(element, where, report)
    elif local in ("id", "updated", "published", "icon", "logo"):
        _leaf(element, where, report)
        value = (element.text or "").strip()
        if local == "id":
            check_id(value, where, report, permanent=in_entry or where == "feed/id")
        elif local in ("updated", "published"):
            check_date(value, where, report)
        elif value and (problem := uri_problem(value, full=False)):
            report.add(problem[0], where, problem[1])
        if not value and local in ("icon", "logo"):
            report.add("NotBlank", where)


def _attributes(element: etree._Element, local: str, where: str, report: Report) -> None:
    allowed = ATTRIBUTES.get(local, set())
    for name in element.attrib:
        if etree.QName(name).namespace is None and name not in allowed:
            report.add("UnexpectedAttribute", where, name)


def _leaf(element: etree._Element, where: str, report: Report) -> None:
    if len(element):
        report.add("UndefinedElement", f"{where}/{_name(element[0])}")
    text = element.text or ""
    if text != text.strip():
        report.add("UnexpectedWhitespace", where, repr(text))


def text_construct(element: etree._Element, where: str, report: Report) -> None:
    local = etree.QName(element).localname
    src = element.get("src")
    kind = element.get("type", "" if src is not None else "text")
    if element.get("type") == "":
        report.add("AttrNotBlank", f"{where}/@type")
    if local != "content" and kind not in ("text", "html", "xhtml"):
        report.add("InvalidTextType", where, kind)
        return
    if local == "content":
        if src is not None:
            if element.get("type") is None:
                report.add("MissingTypeAttr", f"{where}/@type")
            if problem := uri_problem(src, full=False):
                report.add("InvalidURIAttribute", f"{where}/@src", problem[1])
        if kind not in ("text", "html", "xhtml") and (
                not mime_type(kind) or kind == "multipart/alternative"):
            report.add("InvalidMIMEType", where, kind)
    value = element.text or ""
    if kind == "xhtml":
        _xhtml(element, where, report)
    elif kind == "text" or kind.endswith(("+xml", "/xml")) or kind.startswith("text/") \
            and not kind.endswith("/html"):
        if len(element) and not kind.endswith("xml"):
            report.add("UndefinedElement", f"{where}/{_name(element[0])}")
        if kind == "text" and (piece := looks_like_html(value)):
            report.add("ContainsUndeclaredHTML", where, piece)
    elif kind == "html" or kind.endswith("/html"):
        if len(element):
            report.add("UndefinedElement", f"{where}/{_name(element[0])}")
        for code, detail in check_html(value):
            report.add(code, where, detail)
        if kind.endswith("/html") and "<html" not in value and src is None:
            report.add("HtmlFragment", where, kind)
    elif src is None:
        import base64
        import binascii
        try:
            base64.b64decode(value.encode("ascii"), validate=False)
        except (binascii.Error, UnicodeError):
            report.add("NotBase64", where)
    if not value.strip() and not len(element) and src is None:
        report.add("NotBlank", where)


def _xhtml(element: etree._Element, where: str, report: Report) -> None:
    children = list(_children(element))
    if (element.text or "").strip() or len(children) != 1 or children[0].tag != f"{{{XHTML}}}div":
        report.add("MissingXhtmlDiv", where)
    for node in element.iter():
        if node is not element and isinstance(node.tag, str) \
                and etree.QName(node).namespace != XHTML:
            report.add("NotHtml", where, f"unexpected namespace {etree.QName(node).namespace}")
    for child in children:
        for code, detail in check_html(etree.tostring(child, method="html", encoding="unicode",
                                                      with_tail=False)):
            report.add(code, where, detail)


def _person(element: etree._Element, where: str, report: Report) -> None:
    names = element.findall(f"{A}name")
    if not names:
        report.add("MissingElement", f"{where}/name")
    for child in _children(element):
        local = etree.QName(child).localname
        path = f"{where}/{local}"
        if not child.tag.startswith(A) or local not in ("name", "email", "uri"):
            report.add("UndefinedElement", path)
            continue
        if len(element.findall(f"{A}{local}")) > 1 and child is not element.find(f"{A}{local}"):
            report.add("DuplicateElement", path)
        value = child.text or ""
        if local == "name":
            if not value.strip():
                report.add("NotBlank", path)
            if piece := looks_like_html(value):
                report.add("ContainsHTML", path, piece)
            if contains_email(value):
                report.add("ContainsEmail", path, value)
        elif local == "email" and not addr_spec(value.strip()):
            report.add("InvalidAddrSpec", path, value)
        elif local == "uri":
            _leaf(child, path, report)
            if not value.strip():
                report.add("NotBlank", path)
            elif problem := uri_problem(value.strip(), full=False):
                report.add(problem[0], path, problem[1])


def check_link(link: etree._Element, where: str, report: Report, *, in_entry: bool) -> None:
    rel = link.get("rel", "alternate")
    if rel.startswith("http://www.iana.org/assignments/relation/"):
        rel = rel.rsplit("/", 1)[-1]
    if link.get("rel") == "":
        report.add("AttrNotBlank", f"{where}/@rel")
    elif rel not in REGISTERED_RELS and not absolute(rel):
        report.add("UnregisteredAtomLinkRel", where, rel)
    if in_entry and rel in HISTORY_RELS:
        report.add("FeedHistoryRelInEntry", where, rel)
    kind = link.get("type")
    if kind is not None:
        if not mime_type(kind):
            report.add("InvalidMIMEType", f"{where}/@type", kind)
        elif rel == "self" and kind not in SELF_TYPES:
            report.add("SelfNotAtom", where, kind)
    title = link.get("title")
    if title is not None:
        if not title:
            report.add("AttrNotBlank", f"{where}/@title")
        if piece := looks_like_html(title):
            report.add("ContainsHTML", f"{where}/@title", piece)
    length = link.get("length")
    if length is not None and not (length.isdigit()):
        report.add("InvalidNonNegativeInteger", f"{where}/@length", length)
    hreflang = link.get("hreflang")
    if hreflang is not None and (problem := language_problem(hreflang)):
        report.add("InvalidLanguage", f"{where}/@hreflang", problem)
    href = link.get("href")
    if href is None:
        report.add("MissingHref", where)
    else:
        if problem := uri_problem(href, full=False):
            report.add(problem[0], f"{where}/@href", problem[1])
        if not absolute(href):
            report.add("House:RelativeReference", f"{where}/@href", href)
    if (link.text or "").strip() or len(link):
        report.add("AtomLinkNotEmpty", where)


def _category(element: etree._Element, where: str, report: Report) -> None:
    term = element.get("term")
    if term is None:
        report.add("MissingAttribute", where, "term")
    elif not term:
        report.add("NotBlank", f"{where}/@term")
    scheme = element.get("scheme")
    if scheme is not None and (problem := uri_problem(scheme, full=True)):
        report.add("InvalidFullLink", f"{where}/@scheme", problem[1])
    label = element.get("label")
    if label is not None and (piece := looks_like_html(label)):
        report.add("ContainsHTML", f"{where}/@label", piece)


def _generator(element: etree._Element, where: str, report: Report) -> None:
    if len(element):
        report.add("UndefinedElement", f"{where}/{_name(element[0])}")
    uri = element.get("uri")
    if uri is not None and (problem := uri_problem(uri, full=False)):
        report.add("InvalidURIAttribute", f"{where}/@uri", problem[1])
    text = element.text or ""
    if not text.strip():
        report.add("NotBlank", where)
    if piece := looks_like_html(text):
        report.add("ContainsHTML", where, piece)


def check_id(value: str, where: str, report: Report, *, permanent: bool) -> None:
    if problem := uri_problem(value, full=True):
        report.add(problem[0], where, problem[1])
        return
    if canonical_uri(value) != value:
        report.add("NonCanonicalURI", where, f"{value} (canonical: {canonical_uri(value)})")
    if permanent and not value.lower().startswith(PERMANENT_ID):
        report.add("House:NotPermanentId", where, value)


def check_date(value: str, where: str, report: Report) -> None:
    moment = rfc3339(value)
    if moment is None:
        report.add("InvalidRFC3339Date", where, value)
    elif implausible(moment, ATOM_AHEAD):
        report.add("ImplausibleDate", where, value)
