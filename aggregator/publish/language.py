"""Language tags the feeds can carry: ISO 639-1 primary subtags (BCP 47's preferred form).

Sources declare anything ("ckb", "ary", "zz", "en_US"); the W3C validator accepts only
registered ISO 639 codes in xml:lang, hreflang and <language> (InvalidLanguage is an error).
A code with an ISO 639-1 macrolanguage is published as that macrolanguage; others as unknown.
"""

from __future__ import annotations

from functools import lru_cache

# ISO 639-1 (184 codes; Debian iso-codes, iso_639-2.json alpha_2).
_ISO_639_1_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv "
    "cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr "
    "ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw "
    "ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv "
    "ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr "
    "ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi "
    "yo za zh zu")
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
# ISO 639-3 individual languages of an ISO 639-1 macrolanguage that feeds declare (the text
# stage maps the Arabic varieties already), and legacy or 639-2 codes.
MACROLANGUAGES = {
    **dict.fromkeys(("ckb", "kmr", "sdh", "kur"), "ku"),
    **dict.fromkeys(("cmn", "yue", "wuu", "hak", "nan", "zho", "chi"), "zh"),
    **dict.fromkeys(("pes", "prs", "fas", "per"), "fa"),
    **dict.fromkeys(("arb", "ary", "arz", "apc", "acm", "ajp", "aeb", "ara"), "ar"),
    "hbo": "he", "heb": "he", "iw": "he", "in": "id", "ji": "yi", "urd": "ur", "pbu": "ps",
    "pus": "ps", "zsm": "ms", "swh": "sw", "ekk": "et", "lvs": "lv", "nob": "nb", "nno": "nn",
    "eng": "en", "fra": "fr", "fre": "fr", "rus": "ru", "ukr": "uk", "tur": "tr", "deu": "de",
    "ger": "de", "spa": "es", "ita": "it",
}
UNDETERMINED = "und"  # BCP 47 "undetermined": a feed whose language nothing tells
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "yi", "dv", "sd", "ug"})


@lru_cache(maxsize=256)  # a section's items declare a few codes, asked about per entry
def language_tag(code: str | None) -> str | None:
    """The ISO 639-1 code to publish for a declared language code, or None when it has none."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    primary = MACROLANGUAGES.get(primary, primary)
    return primary if primary in ISO_639_1 else None
