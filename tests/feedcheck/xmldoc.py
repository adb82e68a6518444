"""Rules about the XML document itself, common to Atom and RSS: declaration and encoding,
well-formedness, DOCTYPE, namespace prefixes, characters in text and attributes, and text
where none belongs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from feedcheck.common import (
    ATOM,
    KNOWN_NAMESPACES,
    XHTML,
    XML,
    Report,
    bad_characters,
    language_problem,
    uri_problem,
)

_DECLARATION = re.compile(rb"<\?xml\s+version\s*=\s*['\"]([^'\"]*)['\"]"
                          rb"(?:\s+encoding\s*=\s*['\"]([^'\"]*)['\"])?")
# Elements that hold only child elements: text inside them is UnexpectedText.
_CONTAINERS = {f"{{{ATOM}}}{name}" for name in ("feed", "entry", "source", "author",
                                                 "contributor", "category")} \
    | {"rss", "channel", "item"}


@dataclass(frozen=True)
class Document:
    root: etree._Element
    encoding: str  # as declared ("UTF-8")

    @staticmethod
    def parse(data: bytes, report: Report) -> Document | None:
        """The parsed document; None (with a SAXError) when it is not well-formed XML."""
        declaration = _DECLARATION.match(data)
        if data[:1] != b"<" or declaration is None:
            report.add("House:MissingXmlDeclaration", "document", repr(data[:40]))
        version = declaration.group(1) if declaration else b"1.0"
        if version != b"1.0":
            report.add("BadXmlVersion", "document", version.decode("ascii", "replace"))
        encoding = (declaration.group(2) or b"").decode("ascii", "replace") if declaration else ""
        if encoding.upper() != "UTF-8":
            report.add("House:NotUtf8", "document", encoding or "(none declared)")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                                 recover=False, remove_comments=False)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            report.add("UndefinedNamedEntity" if "Entity" in str(exc) else "SAXError",
                       "document", str(exc))
            return None
        tree = root.getroottree()
        if tree.docinfo.doctype:
            report.add("House:Doctype", "document", tree.docinfo.doctype)
        for node in root.iter(etree.Entity):
            report.add("UndefinedNamedEntity", "document", str(node))
        return Document(root, encoding)


def check_namespaces(root: etree._Element, report: Report, *, atom: bool) -> None:
    """Prefixes the validator warns about, and namespaces it does not know."""
    seen: set[tuple[str | None, str]] = set()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for prefix, uri in element.nsmap.items():
            if (prefix, uri) in seen:
                continue
            seen.add((prefix, uri))
            if prefix in KNOWN_NAMESPACES.values() and KNOWN_NAMESPACES.get(uri) != prefix:
                report.add("ReservedPrefix", element.tag, f"{prefix} -> {uri}")
            elif uri not in KNOWN_NAMESPACES:
                report.add("UnknownNamespace", element.tag, uri)
            elif atom and prefix is not None and uri in (ATOM, XHTML):
                report.add("AvoidNamespacePrefix", element.tag, prefix)


def check_text_nodes(root: etree._Element, report: Report) -> None:
    """Bad characters anywhere, and text in elements that hold only elements."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        where = etree.QName(element).localname
        for text in (element.text, element.tail):
            if text and bad_characters(text):
                report.add("BadCharacters", where, repr(text[:60]))
        for name, value in element.attrib.items():
            if bad_characters(value):
                report.add("BadCharacters", f"{where}/@{name}", repr(value[:60]))
        if element.tag in _CONTAINERS:
            texts = [element.text] + [child.tail for child in element]
            if any(t and t.strip() for t in texts):
                report.add("UnexpectedText", where)


def check_xml_attributes(root: etree._Element, report: Report) -> None:
    """xml:lang (a language tag when not empty: "" means unknown) and xml:base everywhere."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        where = etree.QName(element).localname
        lang = element.get(f"{{{XML}}}lang")
        if lang and (problem := language_problem(lang)):
            report.add("InvalidLanguage", f"{where}/@xml:lang", f"{lang}: {problem}")
        base = element.get(f"{{{XML}}}base")
        if base is not None and (problem := uri_problem(base, full=False)):
            report.add(problem[0], f"{where}/@xml:base", problem[1])
