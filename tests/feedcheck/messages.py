"""Every error and warning message of the W3C Feed Validation Service (the classes of its
feedvalidator/logging.py, github.com/w3c/feedvalidator), and what this checker does with it.

CHECKED: messages this checker reports, where, and how. test_conformance.py holds a hand-made
bad document for each one, so none of them can silently stop firing.
NOT_APPLICABLE: messages about things our feeds never contain, each with the reason.
HOUSE: our own rules, stricter than the validator (codes prefixed "House:").
Info-level messages (MissingDCLanguage, NonstdPrefix, TempRedirect, Uncompressed, ...) are
neither errors nor warnings and are left out.
"""

from __future__ import annotations

E, W = "error", "warning"

# code: (level, where it applies, what is checked)
CHECKED: dict[str, tuple[str, str, str]] = {
    # XML and encoding
    "SAXError": (E, "atom rss", "well-formed XML (strict parser, no recovery)"),
    "UndefinedNamedEntity": (E, "atom rss", "entity references XML defines only"),
    "BadXmlVersion": (E, "atom rss", "XML declaration says version 1.0"),
    "BadCharacters": (W, "atom rss", "no C1 control, U+FFFD or UTF-8-read-as-Latin-1 text in "
                     "any text node or attribute"),
    "UnexpectedText": (E, "atom rss", "no text directly inside container elements"),
    "UnexpectedWhitespace": (E, "atom", "no surrounding whitespace in id, dates, uri, icon, logo"),
    # namespaces and vocabulary
    "InvalidNamespace": (E, "atom rss", "root element in the right namespace"),
    "UndefinedElement": (E, "atom rss", "only RFC 4287 / RSS 2.0 elements where they belong; "
                        "fh:archive/fh:complete only at feed level"),
    "UnexpectedAttribute": (E, "atom", "only the attributes RFC 4287 defines (xml:* allowed)"),
    "UnknownNamespace": (W, "atom rss", "only namespaces the validator knows"),
    "ReservedPrefix": (W, "atom rss", "well-known prefixes bound to their own namespaces"),
    "AvoidNamespacePrefix": (W, "atom", "Atom and XHTML namespaces not given a prefix"),
    "UseOfExtensionAttr": (W, "rss", "no namespaced attributes on RSS core elements"),
    "DuplicateElement": (E, "atom rss", "single-valued elements appear once"),
    "MisplacedMetadata": (E, "atom", "feed metadata before the first entry"),
    "MisplacedItem": (W, "rss", "channel metadata before the first item"),
    # required elements
    "MissingElement": (E, "atom rss", "feed/entry title, id, updated; author on each entry or "
                      "the feed; person name; one channel"),
    "MissingSourceElement": (W, "atom", "atom:source has id, title, updated"),
    "MissingTitle": (E, "rss", "channel title"),
    "MissingLink": (E, "rss", "channel link"),
    "MissingDescription": (E, "rss", "channel description"),
    "ItemMustContainTitleOrDescription": (E, "rss", "item title or description"),
    "MissingContentOrAlternate": (E, "atom", "entry with neither content nor alternate link"),
    "MissingTextualContent": (W, "atom", "entry with neither content nor summary"),
    "MissingSummary": (E, "atom", "summary when content is out of line (src) or binary"),
    "MissingSelf": (W, "atom", "feed has link rel=self"),
    "MissingAtomSelfLink": (W, "rss", "channel has atom:link rel=self"),
    "MissingGuid": (W, "rss", "every item has a guid"),
    "MissingAttribute": (E, "atom rss", "category term; RSS source url"),
    "MissingHref": (E, "atom rss", "every link has href"),
    "MissingTypeAttr": (W, "atom", "content with src has type"),
    "MissingXhtmlDiv": (E, "atom", "xhtml text constructs wrap one xhtml:div"),
    # identifiers and URIs
    "InvalidFullLink": (E, "atom rss", "ids, RSS links, source url, category scheme: absolute "
                       "URIs of allowed characters"),
    "InvalidIRI": (E, "atom", "href, uri, icon, logo, xml:base are valid references"),
    "InvalidUriChar": (E, "atom rss", "characters outside RFC 2396 percent-encoded"),
    "InvalidURIAttribute": (E, "atom", "content src, generator uri are valid"),
    "InvalidTAG": (E, "atom", "tag: URIs follow RFC 4151"),
    "InvalidURN": (E, "atom", "urn: URIs follow RFC 2141"),
    "InvalidUUID": (E, "atom", "urn:uuid: holds a well-formed UUID"),
    "NonCanonicalURI": (W, "atom", "ids are in RFC 3986 normal form"),
    "SchemeNotIANARegistered": (W, "atom rss", "URI schemes are registered"),
    "RelativeSelf": (W, "atom", "rel=self is absolute"),
    "SelfDoesntMatchLocation": (W, "atom rss", "rel=self is the address the document is "
                               "served at"),
    "DuplicateEntries": (W, "atom", "no two entries share an id"),
    "DuplicateIds": (E, "atom", "not every entry has the same id"),
    "DuplicateValue": (E, "rss", "no two items share a guid"),
    "InvalidHttpGUID": (E, "rss", "a permalink guid is a full URL"),
    "InvalidPermalink": (E, "rss", "a permalink guid is not a tag:/urn:uuid id"),
    "NotSufficientlyUnique": (W, "rss", "guid is not a short number"),
    "InvalidBooleanAttribute": (E, "rss", "isPermaLink is true or false"),
    # dates
    "InvalidRFC3339Date": (E, "atom", "updated/published are RFC 3339 date-times"),
    "InvalidRFC2822Date": (E, "rss", "pubDate/lastBuildDate are RFC 822 date-times"),
    "IncorrectDOW": (E, "rss", "the weekday matches the date"),
    "ImplausibleDate": (W, "atom rss", "not before 1990, not in the future (a day for Atom, "
                       "ten minutes for RSS)"),
    "DuplicateUpdated": (W, "atom", "no two entries share atom:updated"),
    "InvalidPositiveInteger": (E, "rss", "ttl is a positive integer"),
    "InvalidNonNegativeInteger": (E, "atom", "link length is a non-negative integer"),
    # language
    "InvalidLanguage": (E, "atom rss", "xml:lang, hreflang, <language>: registered ISO 639 "
                       "primary subtag (and BCP 47 syntax)"),
    # text constructs and plain text
    "InvalidTextType": (E, "atom", "text constructs are text, html or xhtml"),
    "InvalidMIMEType": (E, "atom", "link/content type is a media type"),
    "AttrNotBlank": (W, "atom", "type, rel, title attributes not empty"),
    "NotBlank": (W, "atom rss", "titles, names, terms, text constructs not empty"),
    "ContainsUndeclaredHTML": (W, "atom", "type=text holds nothing that reads as HTML"),
    "ContainsHTML": (W, "atom rss", "person names, link titles, labels, RSS titles, "
                    "categories, source, channel description hold no HTML"),
    "CharacterData": (W, "rss", "RSS profile: '<' or '&#' in plain text is written as a "
                     "hexadecimal character reference"),
    "ContainsEmail": (W, "atom", "person names carry no <address>"),
    "InvalidAddrSpec": (E, "atom", "atom:email is an addr-spec"),
    "HtmlFragment": (W, "atom", "*/html content is a whole document"),
    "NotBase64": (E, "atom", "binary content is base64"),
    # escaped HTML
    "NotHtml": (W, "atom rss", "escaped HTML parses without errors; only HTML elements"),
    "SecurityRisk": (W, "atom rss", "no script, style, iframe, object, embed, meta, link, "
                    "base, form..."),
    "SecurityRiskAttr": (W, "atom rss", "no event handlers or other unsafe attributes"),
    "DangerousStyleAttr": (W, "atom rss", "style attributes only with plain properties"),
    "ContainsRelRef": (W, "atom rss", "href/src in HTML are absolute (the validator checks RSS "
                      "descriptions; we check every HTML)"),
    # links
    "UnregisteredAtomLinkRel": (W, "atom rss", "link relations registered or absolute URIs"),
    "AtomLinkNotEmpty": (W, "atom rss", "links have no content"),
    "SelfNotAtom": (W, "atom rss", "rel=self has a feed media type"),
    "DuplicateAtomLink": (E, "atom", "one alternate per type and hreflang"),
    "FeedHistoryRelInEntry": (W, "atom rss", "RFC 5005 relations only at feed level"),
    # RFC 5005
    "ArchiveIncomplete": (W, "atom", "an archive document links prev- or next-archive"),
    "MissingCurrentInArchive": (W, "atom", "an archive document links current"),
    "FeedRelInCompleteFeed": (E, "atom", "a complete feed has no paging links"),
    "CurrentNotSelfInCompleteFeed": (E, "atom", "a complete feed's current is itself"),
    "LinkPastEnd": (E, "atom", "first/last pages do not link beyond themselves"),
    # RSS specifics
    "InvalidRSSVersion": (E, "rss", "version 2.0"),
    "DuplicateSemantics": (W, "rss", "no channel element duplicated by an extension"),
    "DuplicateItemSemantics": (W, "rss", "no item element duplicated by an extension "
                              "(author + dc:creator, guid + atom:id, ...)"),
    # HTTP (checked on the served documents)
    "UnexpectedContentType": (W, "http", "Content-Type is the feed's own media type"),
    "EncodingMismatch": (W, "http", "Content-Type charset equals the XML declaration's"),
    "HttpError": (E, "http", "the document is served with 200"),
}

# House rules: stricter than the validator, what our feeds promise (issue 6).
HOUSE: dict[str, tuple[str, str, str]] = {
    "House:NotPermanentId": (E, "atom", "feed and entry ids are tag: or urn:uuid: URIs"),
    "House:RelativeReference": (E, "atom rss", "every link href is absolute"),
    "House:UnsafeScheme": (E, "atom rss", "href/src in HTML are http, https or mailto"),
    "House:UpdatedBeforePublished": (E, "atom", "an entry's updated is not before published"),
    "House:NotUtf8": (E, "atom rss", "documents are declared and served as UTF-8"),
    "House:MissingXmlDeclaration": (E, "atom rss", "documents start with an XML declaration"),
    "House:Doctype": (E, "atom rss", "no DOCTYPE (the validator flags SYSTEM entities)"),
}

_NEVER = "our feeds never contain"
# code: why it does not apply
NOT_APPLICABLE: dict[str, str] = {
    # input problems of other producers or of fetching
    "WPBlankLine": "a WordPress quirk: our documents start with the XML declaration "
                   "(House:MissingXmlDeclaration)",
    "UnicodeError": "we write UTF-8 with lxml; the strict parse (SAXError) would fail first",
    "UnknownEncoding": "we declare UTF-8 (House:NotUtf8)",
    "ObscureEncoding": "we declare UTF-8 (House:NotUtf8)",
    "InvalidEncoding": "OpenSearch InputEncoding: " + _NEVER + " it",
    "IOError": "network failure of the validator itself",
    "HttpProtocolError": "malformed header names: the ASGI server writes the headers",
    "HttpsProtocolError": "TLS is the reverse proxy's (deploy/nginx), not the app's",
    "HttpsProtocolWarning": "TLS is the reverse proxy's (deploy/nginx), not the app's",
    "HttpErrorWithPossibleFeed": "only with a non-200 status, covered by HttpError",
    "ValidatorLimit": "documents over 5 MB: a subscription document holds max_items "
                      "stories; archives one day",
    "NonSpecificMediaType": "only for text/xml or application/xml, which we never send",
    "UnknownHost": "needs DNS for e-mail domains; we publish no e-mail addresses",
    "InvalidDoctype": "no DOCTYPE at all (House:Doctype)",
    "DeprecatedDTD": "no DOCTYPE at all (House:Doctype)",
    "FatalSecurityRisk": "no longer raised by the validator's code",
    "ValidationFailure": "a wrapper for the fetch errors above",
    "InvalidValue": "base class; its subclasses are listed one by one",
    "RSS20Profile": "base class; its subclasses are listed one by one",
    # older formats and namespaces
    "ObsoleteVersion": "Atom 0.3 / OPML outlineDocument: we write Atom 1.0",
    "ObsoleteNamespace": "Atom 0.3's namespace: we write Atom 1.0",
    "MissingNamespace": "a prefix with no declaration cannot be written by lxml",
    "NotInANamespace": "RSS extension elements without a namespace: we add none",
    "UndeterminableVocabulary": "un-namespaced elements in Atom: feedgen writes the "
                                "Atom default namespace (UndefinedElement covers strays)",
    "UndeclaredPrefix": "lxml declares every prefix it writes",
    "MediaRssNamespace": "Media RSS: " + _NEVER + " it",
    "ObsoleteWikiNamespace": "wiki module: " + _NEVER + " it",
    "UnsupportedNamespace": "Google Data / RawVoice: " + _NEVER + " them",
    "QuestionableUsage": "Atom elements misplaced in RSS: our RSS uses atom:link only",
    "MisplacedXHTMLContent": "xhtml:body/div in RSS: " + _NEVER + " it",
    "NoBlink": "<blink> in RSS: " + _NEVER + " it",
    "NoThrWhen": "thr:when: " + _NEVER + " it",
    "CommentRSS": "wfw:commentRSS: " + _NEVER + " it",
    "InvalidRDF": "RSS 1.0: we publish Atom and RSS 2.0",
    "NotEscaped": "Atom 0.3 mode=escaped: gone in Atom 1.0",
    "InvalidContentMode": "Atom 0.3 mode attribute: gone in Atom 1.0",
    "NotInline": "xhtml text constructs: we write html ones (MissingXhtmlDiv is checked in "
                 "case that changes)",
    "SameDocumentReference": "needs an xml:base differing from the document's: we use no "
                             "xml:base (every link is absolute, House:RelativeReference)",
    "UriNotIri": "an IRI where a URI is required: we write URIs only (InvalidUriChar and "
                 "InvalidFullLink report non-ASCII)",
    "InvalidURI": "superseded by InvalidIRI / InvalidFullLink in the validator's code",
    "InvalidLink": "base class of the URI messages checked above",
    "InvalidURLAttribute": "enclosure/cloud/image URLs: " + _NEVER + " them",
    "InvalidContact": "RSS managingEditor/webMaster: " + _NEVER + " them",
    "EmailFormat": "RSS author/managingEditor e-mails: we write dc:creator names",
    "MissingRealName": "RSS author/managingEditor e-mails: we write dc:creator names",
    # RSS elements we do not publish
    "NotEnoughHoursInTheDay": "skipHours: " + _NEVER + " it",
    "EightDaysAWeek": "skipDays: " + _NEVER + " it",
    "InvalidHour": "skipHours: " + _NEVER + " it",
    "InvalidDay": "skipDays: " + _NEVER + " it",
    "UseZeroForMidnight": "skipHours: " + _NEVER + " it",
    "InvalidWidth": "channel image: " + _NEVER + " it",
    "InvalidHeight": "channel image: " + _NEVER + " it",
    "ImageLinkDoesntMatch": "channel image: " + _NEVER + " it",
    "ImageUrlFormat": "channel image: " + _NEVER + " it",
    "ImageTitleDoesntMatch": "channel image: " + _NEVER + " it",
    "AvoidTextInput": "textInput: " + _NEVER + " it",
    "InvalidIntegerAttribute": "enclosure length / cloud port: " + _NEVER + " them",
    "InvalidMIMEAttribute": "enclosure type: " + _NEVER + " enclosures",
    "DuplicateEnclosure": "enclosures: " + _NEVER + " them",
    "UseZeroForUnknown": "enclosure length: " + _NEVER + " enclosures",
    "NeedDescriptionBeforeContent": "content:encoded: " + _NEVER + " it (description "
                                    "carries the HTML)",
    "DuplicateDescriptionSemantics": "xhtml:body / atom:summary in RSS: " + _NEVER + " them",
    "SlashDate": "slash:comments: " + _NEVER + " it",
    "InvalidUpdatePeriod": "sy:updatePeriod: " + _NEVER + " it",
    "InvalidInteger": "integer extension elements: " + _NEVER + " them",
    "InvalidPercentage": "Google Base: " + _NEVER + " it",
    "InvalidCommaSeparatedIntegers": "slash:hit_parade: " + _NEVER + " it",
    "InvalidISO8601Date": "ISO 8601 extension dates: " + _NEVER + " them",
    "InvalidISO8601DateTime": "ISO 8601 extension dates: " + _NEVER + " them",
    "InvalidW3CDTFDate": "dc:date / dcterms dates: " + _NEVER + " them",
    "ProblematicalRFC822Date": "a date matching only the loose RFC 822 grammar: "
                               "InvalidRFC2822Date (strict grammar) is checked instead",
    "IntegerOverflow": "OpenSearch/SSE integers: " + _NEVER + " them",
    # other vocabularies: iTunes, Media RSS, Google Base, GeoRSS, KML, OPML, OpenSearch, SSE,
    # AtomPub, access restriction, meta, syndication rights
    **dict.fromkeys(
        ["InvalidItunesCategory", "InvalidItunesEpisodeType", "InvalidItunesChannelType",
         "InvalidYesNo", "InvalidYesNoClean", "InvalidDuration", "TooLong", "InvalidKeywords",
         "ObsoleteItunesCategory", "NotUTF8", "MissingItunesElement", "MissingItunesEmail",
         "UnsupportedItunesFormat", "InvalidAdultContent"],
        "iTunes podcast elements: we publish news, not podcasts"),
    **dict.fromkeys(
        ["InvalidCreditRole", "InvalidMediaTextType", "InvalidMediaHash", "InvalidMediaRating",
         "InvalidNPTTime", "InvalidMediaRestriction", "InvalidMediaRestrictionRel",
         "InvalidMediaRestrictionType", "InvalidMediaMedium", "InvalidMediaExpression",
         "DeprecatedMediaAdult", "MediaGroupWithoutAlternatives"],
        "Media RSS: " + _NEVER + " it"),
    **dict.fromkeys(
        ["InvalidCountryCode", "InvalidCurrencyUnit", "InvalidFloat", "InvalidFloatUnit",
         "InvalidFullLocation", "InvalidGender", "InvalidIntUnit", "InvalidLabel",
         "InvalidLocation", "InvalidMaritalStatus", "InvalidPaymentMethod", "InvalidPriceType",
         "InvalidRatingType", "InvalidReviewerType", "InvalidSalaryType", "InvalidServiceType",
         "InvalidYear", "TooMany", "InvalidAlphanum"],
        "Google Base: " + _NEVER + " it"),
    **dict.fromkeys(["InvalidLatitude", "InvalidLongitude", "InvalidCoord", "InvalidCoordList",
                     "CoordComma"], "GeoRSS / W3C geo: " + _NEVER + " them"),
    **dict.fromkeys(
        ["Deprecated", "DeprecatedRootHref", "InvalidAltitudeMode", "InvalidAngle",
         "InvalidColor", "InvalidColorMode", "InvalidItemIconState", "InvalidListItemType",
         "InvalidKmlCoordList", "InvalidKmlLatitude", "InvalidKmlLongitude",
         "InvalidKmlMediaType", "InvalidKmlUnits", "InvalidRefreshMode",
         "InvalidSchemaFieldType", "InvalidStyleState", "InvalidViewRefreshMode",
         "InvalidZeroOne", "MissingId"],
        "KML documents: we publish none"),
    **dict.fromkeys(
        ["InvalidOPMLVersion", "MissingXmlURL", "InvalidOutlineVersion", "InvalidOutlineType",
         "InvalidExpansionState", "InvalidTrueFalse", "MissingOutlineType", "MissingTitleAttr",
         "MissingUrlAttr"],
        "OPML: the issue asks for the feeds; /opml/*.opml are outlines, tested in "
            "tests/test_opml.py"),
    **dict.fromkeys(["ShouldIncludeExample", "InvalidFormComponentName", "NotURLEncoded",
                     "InvalidLocalRole", "InvalidLocalParameter", "UndefinedParam"],
                    "OpenSearch descriptions: we publish none"),
    **dict.fromkeys(["InvalidSseType", "InvalidNSS", "SinceAfterUntil",
                     "MissingByAndWhenAttrs"], "FeedSync (SSE): " + _NEVER + " it"),
    **dict.fromkeys(["ConflictingCatAttr", "ConflictingCatChildren", "InvalidMediaRange"],
                    "AtomPub category and service documents: we publish none"),
    **dict.fromkeys(["InvalidAccessRestrictionRel", "InvalidMetaName", "InvalidMetaContent",
                     "InvalidSyndicationRight", "MissingRecommendedAttribute"],
                    "access:restriction / xhtml:meta / syndication rights: " + _NEVER +
                     " them"),
}

LEVELS: dict[str, str] = {code: row[0] for code, row in {**CHECKED, **HOUSE}.items()}

# The validator's Error and Warning classes (feedvalidator/logging.py, w3c/feedvalidator at
# 47a1572), transcribed: test_conformance.py checks that each is in CHECKED or NOT_APPLICABLE
# and that CHECKED gives it the validator's level.
_VALIDATOR_ERRORS = """
SAXError WPBlankLine UnicodeError MissingNamespace NotInANamespace UndefinedNamedEntity
InvalidRSSVersion UndefinedElement NoBlink NoThrWhen MissingAttribute UnexpectedAttribute
DuplicateElement NotEnoughHoursInTheDay EightDaysAWeek InvalidValue InvalidContact
InvalidAddrSpec InvalidLink UriNotIri InvalidIRI InvalidFullLink InvalidUriChar
InvalidISO8601Date InvalidISO8601DateTime InvalidW3CDTFDate InvalidRFC2822Date IncorrectDOW
InvalidRFC3339Date InvalidURIAttribute InvalidURLAttribute InvalidIntegerAttribute
InvalidBooleanAttribute InvalidMIMEAttribute InvalidInteger InvalidPercentage
InvalidNonNegativeInteger InvalidPositiveInteger InvalidAlphanum InvalidWidth InvalidHeight
InvalidHour InvalidDay InvalidHttpGUID InvalidLanguage InvalidUpdatePeriod
InvalidItunesCategory InvalidItunesEpisodeType InvalidItunesChannelType InvalidYesNo
InvalidYesNoClean InvalidDuration TooLong InvalidTextType InvalidCommaSeparatedIntegers
InvalidFormComponentName InvalidAccessRestrictionRel NotURLEncoded InvalidLocalRole
InvalidEncoding InvalidSyndicationRight InvalidLocalParameter MissingElement
MissingDescription MissingLink MissingTitle ItemMustContainTitleOrDescription MissingXhtmlDiv
MissingContentOrAlternate FatalSecurityRisk DuplicateValue InvalidDoctype BadXmlVersion
DuplicateAtomLink MissingHref HttpError IOError UnknownEncoding UnexpectedText
UnexpectedWhitespace ValidatorLimit HttpProtocolError HttpsProtocolError InvalidRDF
InvalidLatitude InvalidLongitude MisplacedMetadata InvalidPermalink InvalidCreditRole
InvalidMediaTextType InvalidMediaHash InvalidMediaRating InvalidNPTTime
InvalidMediaRestriction InvalidMediaRestrictionRel InvalidMediaRestrictionType
InvalidMediaMedium InvalidMediaExpression MediaGroupWithoutAlternatives InvalidSseType
InvalidNSS IntegerOverflow SinceAfterUntil MissingByAndWhenAttrs HttpErrorWithPossibleFeed
MediaRssNamespace DuplicateIds MissingSummary UndeclaredPrefix ObsoleteNamespace
ConflictingCatAttr ConflictingCatChildren InvalidMediaRange InvalidURI InvalidURN InvalidUUID
InvalidTAG InvalidContentMode InvalidMIMEType InvalidNamespace NotEscaped NotBase64
FeedRelInCompleteFeed CurrentNotSelfInCompleteFeed LinkPastEnd DeprecatedDTD
InvalidOPMLVersion InvalidExpansionState InvalidTrueFalse InvalidCountryCode
InvalidCurrencyUnit InvalidFloat InvalidFloatUnit InvalidFullLocation InvalidGender
InvalidIntUnit InvalidLabel InvalidLocation InvalidMaritalStatus InvalidPaymentMethod
InvalidPriceType InvalidRatingType InvalidReviewerType InvalidSalaryType InvalidServiceType
InvalidYear TooMany InvalidCoord InvalidCoordList InvalidMetaName InvalidMetaContent
InvalidAltitudeMode InvalidAngle InvalidColor InvalidColorMode InvalidItemIconState
InvalidListItemType InvalidKmlCoordList InvalidKmlLatitude InvalidKmlLongitude
InvalidKmlUnits InvalidRefreshMode InvalidSchemaFieldType InvalidStyleState
InvalidViewRefreshMode InvalidZeroOne UseZeroForUnknown ValidationFailure
"""
_VALIDATOR_WARNINGS = """
UseOfExtensionAttr UnknownHost ObsoleteItunesCategory InvalidKeywords UndeterminableVocabulary
AtomLinkNotEmpty UnregisteredAtomLinkRel HttpsProtocolWarning DeprecatedMediaAdult
DuplicateSemantics DuplicateItemSemantics DuplicateDescriptionSemantics ImageLinkDoesntMatch
ImageUrlFormat ContainsRelRef ReservedPrefix NotSufficientlyUnique ImplausibleDate
ProblematicalRFC822Date SecurityRisk SecurityRiskAttr DangerousStyleAttr BadCharacters
ObscureEncoding UnexpectedContentType EncodingMismatch NonSpecificMediaType NonCanonicalURI
SameDocumentReference ContainsEmail ContainsHTML ContainsUndeclaredHTML MissingSelf
SelfDoesntMatchLocation RelativeSelf MissingSourceElement MissingTypeAttr DuplicateEntries
DuplicateUpdated NotBlank AttrNotBlank MissingTextualContent NotUTF8 MissingItunesElement
MissingItunesEmail UnsupportedItunesFormat SelfNotAtom DuplicateEnclosure MissingGuid
ObsoleteWikiNamespace CommentRSS ShouldIncludeExample InvalidAdultContent
MisplacedXHTMLContent SchemeNotIANARegistered AvoidNamespacePrefix UnknownNamespace
UnsupportedNamespace MissingRecommendedAttribute QuestionableUsage ObsoleteVersion
UndefinedParam NotInline NotHtml HtmlFragment FeedHistoryRelInEntry MissingCurrentInArchive
ArchiveIncomplete MissingXmlURL InvalidOutlineVersion InvalidOutlineType MissingOutlineType
MissingTitleAttr MissingUrlAttr CoordComma Deprecated DeprecatedRootHref InvalidKmlMediaType
MissingId RSS20Profile CharacterData EmailFormat MissingRealName MisplacedItem
ImageTitleDoesntMatch AvoidTextInput NeedDescriptionBeforeContent SlashDate
UseZeroForMidnight MissingAtomSelfLink
"""
VALIDATOR_LEVELS: dict[str, str] = {**dict.fromkeys(_VALIDATOR_ERRORS.split(), E),
                                    **dict.fromkeys(_VALIDATOR_WARNINGS.split(), W)}
