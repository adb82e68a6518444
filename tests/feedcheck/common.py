"""Value rules shared by the Atom and RSS checks: characters, URIs, dates, language tags,
media types and "text that looks like HTML". Written from the W3C Feed Validation Service's
documentation and behaviour (see messages.py), independently of aggregator/publish, so a
mistake in the product is not repeated here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_tz
from html.entities import name2codepoint
from urllib.parse import urlsplit


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of a long literal list."""
    return frozenset(text.split())


ATOM = "http://www.w3.org/2005/Atom"
XML = "http://www.w3.org/XML/1998/namespace"
XHTML = "http://www.w3.org/1999/xhtml"
HISTORY = "http://purl.org/syndication/history/1.0"
DC = "http://purl.org/dc/elements/1.1/"

# Namespaces the validator knows, with the prefixes it expects (a subset of its table: the
# ones a news feed might carry). A namespace outside it draws UnknownNamespace.
KNOWN_NAMESPACES = {
    ATOM: "atom", HISTORY: "fh", DC: "dc", XHTML: "xhtml", XML: "xml",
    "http://purl.org/dc/terms/": "dcterms", "http://purl.org/syndication/thread/1.0": "thr",
    "http://purl.org/rss/1.0/modules/content/": "content", "http://search.yahoo.com/mrss/":
    "media", "http://www.georss.org/georss": "georss", "http://wellformedweb.org/CommentAPI/":
    "wfw", "http://purl.org/rss/1.0/modules/syndication/": "sy",
    "http://purl.org/rss/1.0/modules/slash/": "slash",
}

# ISO 639-1, as published in Debian's iso-codes (iso_639-2.json, alpha_2): the validator's
# xml:lang/hreflang/<language> check wants a registered ISO 639 primary subtag.
ISO_639_1 = words("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""")
# RFC 5646 §2.1 language-tag syntax (langtag and private use; grandfathered tags left out).
_BCP47 = re.compile(
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})"  # language (+ extlang)
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*"  # extensions
    r"(?:-x(?:-[a-z0-9]{1,8})+)?|x(?:-[a-z0-9]{1,8})+", re.I)

# RFC 2045 media type with parameters, as the validator's MIME rule reads it.
_TOKEN = r"[^\s()<>,;:\\\"/\[\]?=]+"
MIME = re.compile(rf"{_TOKEN}/{_TOKEN}(\s*;\s*{_TOKEN}=(\"(\\\"|[^\"])*\"|{_TOKEN}))*")

# The characters the validator allows unescaped in a URI (RFC 2396: unreserved, reserved,
# "%" and "#"); anything else must be percent-encoded.
URI_CHARS = re.compile(r"[0-9A-Za-z;/?:@&=+$.\-_!~*'()%,#]*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_TAG_URI = re.compile(r"tag:(?:[a-z0-9\-._]+@)?[a-z0-9.\-]+,\d{4}(?:-\d{2}(?:-\d{2})?)?:"
                      r"[0-9A-Za-z;/?:@&=+$.\-_!~*'()%,]*(?:#[0-9A-Za-z;/?:@&=+$.\-_!~*'()%,]*)?")
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]{1,31}:"
                  r"(?:[A-Za-z0-9()+,.:=@;$_!*'\-]|%[0-9A-Fa-f]{2})+", re.I)
_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
# Schemes registered with IANA that a feed of ours could meet (SchemeNotIANARegistered).
IANA_SCHEMES = words("http https ftp mailto urn tag data news nntp tel sip sips xmpp irc geo "
                     "magnet file info")

_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                      r"(Z|[+-]\d{2}:\d{2})")
_RFC822 = re.compile(r"(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d\d? (Jan|Feb|Mar|Apr|May|Jun|Jul|"
                     r"Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d(?::\d\d)? "
                     r"(?:[+-]?\d\d[03]0|UT|GMT|EST|EDT|CST|CDT|MST|MDT|PST|PDT|Z)")
_END_TAG = re.compile(r"</(\w+)>")
_ENTITY = re.compile(r"&(#?\w+)")
_EMAIL_IN_TEXT = re.compile(r"<[A-Z0-9_\-+.']+@(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|"
                            r"(?:[A-Z0-9\-]+\.)+[A-Z0-9][A-Z0-9\-]*)>", re.I)
_ADDR_SPEC = re.compile(r"[A-Z0-9_\-+.']+@(?:(?:[A-Z0-9\-]+\.)+)[A-Z0-9][A-Z0-9\-]*", re.I)
_C1_OR_REPLACEMENT = re.compile("[\x80-\x9f\ufffd]")
_DOUBLE_ENCODED = re.compile("[\u00c2\u00c3][\u0080-\u00bf]")

# Element names the validator treats as HTML ("Non-html tag" beyond them).
HTML_ELEMENTS = words("""
a abbr acronym address applet area article aside audio b base basefont bdi bdo big blockquote
body br button canvas caption center cite code col colgroup command data datagrid datalist dd
del details dfn dialog dir div dl dt em eventsource fieldset figcaption figure font footer form
frame frameset h1 h2 h3 h4 h5 h6 head header hgroup hr html i iframe img input ins isindex kbd
label legend li link m main mark map menu meta meter nav noframes noscript object ol optgroup
option output p param picture pre progress q rp rt ruby s samp script section select slot small
source span strike strong style sub summary sup table tbody td template textarea tfoot th thead
time title tr track tt u ul var xmp plaintext embed comment listing video wbr
""")


@dataclass(frozen=True)
class Message:
    """One finding: the validator's message class name, its level, and where."""

    code: str  # e.g. "InvalidRFC3339Date" (validator class) or "House:..." (ours, stricter)
    level: str  # "error" or "warning"
    where: str  # element path, e.g. "feed/entry[3]/updated"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.level} {self.code} at {self.where}: {self.detail}"


@dataclass
class Report:
    """Collects messages; `levels` maps each code to its level (messages.py)."""

    levels: dict[str, str]
    messages: list[Message] = field(default_factory=list)

    def add(self, code: str, where: str, detail: str = "") -> None:
        self.messages.append(Message(code, self.levels[code], where, detail))


# -- characters ---------------------------------------------------------------------------------

def bad_characters(value: str) -> bool:
    """C1 controls or U+FFFD (text decoded as windows-1252/replaced), or UTF-8 read as Latin-1
    ("Ã©"): what the validator calls BadCharacters."""
    if _C1_OR_REPLACEMENT.search(value):
        return True
    for segment in value.split("\n"):
        if _DOUBLE_ENCODED.search(segment):
            try:
                segment.encode("latin-1").decode("utf-8")
                return True
            except UnicodeError:
                continue
    return False


def looks_like_html(value: str) -> str | None:
    """The piece of `value` that makes the validator call plain text HTML: an end tag of an
    HTML element, or an entity-like "&name" it knows (or a numeric one)."""
    for name in _END_TAG.findall(value):
        if name.lower() in HTML_ELEMENTS:
            return f"</{name}>"
    for name in _ENTITY.findall(value):
        if name in name2codepoint or name == "apos" or not name.isalpha():
            return f"&{name}"
    return None


def contains_email(value: str) -> bool:
    return bool(_EMAIL_IN_TEXT.search(value))


def addr_spec(value: str) -> bool:
    return bool(_ADDR_SPEC.fullmatch(value))


# -- URIs ---------------------------------------------------------------------------------------

def uri_problem(value: str, *, full: bool) -> tuple[str, str] | None:
    """(message code, detail) when `value` is not a URI reference the validator accepts;
    `full` demands an absolute URI (rfc2396_full). IRIs (non-ASCII) are refused: we publish
    URIs only."""
    for char in value:
        if not URI_CHARS.fullmatch(char):
            if ord(char) < 128:
                return "InvalidUriChar", f"{char!r} in {value!r}"
            return ("InvalidFullLink" if full else "InvalidIRI"), f"non-ASCII in {value!r}"
    if value.count("#") > 1:
        return "InvalidUriChar", f"two '#' in {value!r}"
    scheme = _SCHEME.match(value)
    if full and not scheme:
        return "InvalidFullLink", f"not absolute: {value!r}"
    if not scheme:
        return None
    name = scheme.group()[:-1].lower()
    if name == "tag" and not _TAG_URI.fullmatch(value):
        return "InvalidTAG", value
    if name == "urn":
        if value.lower().startswith("urn:uuid:"):
            return None if _UUID.fullmatch(value) else ("InvalidUUID", value)
        return None if _URN.fullmatch(value) else ("InvalidURN", value)
    if name in ("http", "https", "ftp") and not re.match(r"\w+://[^/]", value):
        return ("InvalidFullLink" if full else "InvalidIRI"), f"no authority: {value!r}"
    if full and len(value) == len(scheme.group()):
        return "InvalidFullLink", value
    if name not in IANA_SCHEMES:
        return "SchemeNotIANARegistered", name
    return None


_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}


def canonical_uri(value: str) -> str:
    """RFC 3986 §6.2.2 syntax-based normalization: lower-case scheme and host, default port
    dropped, percent-encodings upper-case and unreserved ones decoded, dot segments removed,
    an empty path of an http(s) URI is "/"."""
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    if netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        host, _, port = hostport.partition(":") if not hostport.startswith("[") \
            else (hostport[:hostport.index("]") + 1], "", hostport[hostport.index("]") + 2:])
        host = host.lower().rstrip(".") if host.count(".") > 1 else host.lower()
        if port in ("", _DEFAULT_PORTS.get(scheme)):
            port = ""
        netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{port}" if port else "")
    path = _percent(parts.path)
    if netloc or path.startswith("/"):
        path = _remove_dots(path) or ("/" if netloc else "")
    out = f"{scheme}:" if scheme else ""
    out += f"//{netloc}" if netloc or parts.scheme in ("http", "https") else ""
    out += path
    if "?" in value:
        out += "?" + _percent(parts.query)
    if "#" in value:
        out += "#" + _percent(parts.fragment)
    return out


def _percent(text: str) -> str:
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else match.group(0).upper()
    return re.sub(r"%([0-9A-Fa-f]{2})", fix, text)


def _remove_dots(path: str) -> str:
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


def absolute(value: str) -> bool:
    return bool(_SCHEME.match(value))


# -- dates --------------------------------------------------------------------------------------

def rfc3339(value: str) -> datetime | None:
    """The moment of an RFC 3339 date-time, None when it is not one (InvalidRFC3339Date)."""
    match = _RFC3339.fullmatch(value)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if hour > 23 or minute > 59 or second > 60:
        return None
    try:
        date(year, month, day)
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace(":60", ":59"))
    except ValueError:
        return None


def rfc822(value: str) -> tuple[str, datetime] | None:
    """(problem, moment): problem is "" for a valid RFC 822 date-time (as RFC 2822 and the
    validator write it) or "IncorrectDOW"; None when it is not one (InvalidRFC2822Date)."""
    if not _RFC822.fullmatch(value):
        return None
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    try:
        local = datetime(*parsed[:6], tzinfo=UTC)
    except ValueError:
        return None
    if "," in value and local.strftime("%a") != value[:3]:
        return "IncorrectDOW", local
    return "", local - timedelta(seconds=parsed[9] or 0)


def implausible(moment: datetime, ahead: timedelta, now: datetime | None = None) -> bool:
    """Before 1990, or later than `ahead` from now: the validator's ImplausibleDate (it allows
    a day ahead in Atom dates, ten minutes in RSS ones)."""
    now = now or datetime.now(UTC)
    return moment < datetime(1990, 1, 1, tzinfo=UTC) or moment > now + ahead


# -- languages ----------------------------------------------------------------------------------

def language_problem(value: str) -> str | None:
    """Why `value` is not a language tag the validator and BCP 47 both accept, or None."""
    if not _BCP47.fullmatch(value):
        return "not a BCP 47 tag"
    primary = value.split("-")[0].lower()
    if primary in ISO_639_1 or primary in ("und", "x", "mul", "zxx"):
        return None
    return f"primary subtag {primary!r} is not ISO 639-1 (we publish ISO 639-1 codes only)"


def mime_type(value: str) -> bool:
    return bool(MIME.fullmatch(value))


def duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for value in values:
        if value in seen:
            repeated.append(value)
        seen.add(value)
    return repeated
