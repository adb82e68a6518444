"""XML elements written as text, byte for byte as lxml pretty-prints them (libxml2's escaping
of text and attribute values, two spaces of indentation per level, an empty element closed
as "<name/>"). A document's entries are written this way: building an element tree for each of
thousands of entries only to serialize it cost more than the rest of publishing.

Pure string work; the values must already be XML-safe (clean.xml_text): lxml would refuse
what this module would write.
"""

from __future__ import annotations

from collections.abc import Iterable


def text(value: str) -> str:
    """`value` as element content (libxml2 writes a carriage return as a reference)."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def attribute(value: str) -> str:
    """`value` inside double quotes (whitespace other than spaces as references, so that a
    parser reads it back unnormalized)."""
    value = text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#9;")
    return value


def attributes(pairs: Iterable[tuple[str, str]]) -> str:
    return "".join(f' {name}="{attribute(value)}"' for name, value in pairs)


def element(indent: str, tag: str, content: str | None,
            attrs: Iterable[tuple[str, str]] = ()) -> str:
    """One line: an element holding only text (None: none, written "<tag/>")."""
    start = f"{tag}{attributes(attrs)}" if attrs else tag
    if content is None:
        return f"{indent}<{start}/>\n"
    return f"{indent}<{start}>{text(content)}</{tag}>\n"
