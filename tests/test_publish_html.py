"""safe_html parses a fragment under the parsed <body> instead of a new <div>: the same HTML
comes out as from lxml.html.fragment_fromstring(create_parent="div"), for every kind of
fragment the stored items hold and some they should not."""

from __future__ import annotations

import lxml.html
import pytest
from lxml import etree

from aggregator.publish import html

FRAGMENTS = [
    "plain text", "  leading spaces", "\n<p>after a newline</p>", "  <p>x</p> tail  ",
    "<p>a</p><p>b</p>", "text <b>bold</b> more", "<div dir=\"auto\"><p>R&amp;D &lt;3</p></div>",
    "<p>unclosed <i>italic", "</p>stray end", "<body class=\"x\"><p>in a body</p></body>",
    "<p>x</p></body><p>after the body</p>", "<html><body><p>whole</p></body></html>",
    "<!DOCTYPE html><p>doctype</p>", "<head><title>t</title></head><p>x</p>",
    "<!-- a comment --><p>x</p>", "<?pi x?><p>y</p>", "<script>alert(1)</script><p>z</p>",
    "<p>a<br>b<img src=\"https://a.example/i.png\">c</p>", "<embed src=x>text after embed",
    "<wbr>inside<p>p</p>", "<bdo dir=\"rtl\">عربي</bdo>", "<a href=\"javascript:x\">j</a>",
    "<a href=\"https://a.example/p q|r\">link</a>", "<table><td>cell</td></table>",
    "&nbsp;&eacute;&#x41;&amp;", "<p>\u00a0non-breaking\u2028</p>", "<frameset></frameset>",
    "<ul><li>1<li>2</ul>", "<P CLASS=x ONCLICK=y>upper</P>", "<svg><circle/></svg>after",
]


def _reference(fragment: str) -> str:
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    html._clean(root)
    inner = etree.tostring(root, method="html", encoding="unicode")
    return inner[len("<div>"):-len("</div>")]


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_a_fragment_is_cleaned_as_under_a_new_div(fragment: str) -> None:
    assert html.safe_html(fragment) == _reference(fragment)


def test_the_parsed_body_is_used_for_fragments() -> None:  # else the test above compares the same
    assert html._parse("  <p>x</p>").tag == "body"
    assert html._parse("<html><p>x</p></html>").tag == "div"
