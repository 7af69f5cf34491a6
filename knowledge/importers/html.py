"""Importer for official web pages (saved HTML files, or HTML fragments from CMS exports).

Municipal service pages say the same things under many different headings ("Was brauche ich?",
"Erforderliche Unterlagen", ...). We map those headings onto our `Section`s so that answers can
cite "Unterlagen" from Munich and from a Landkreis alike, and we keep everything else in the
overview rather than dropping it: a lost sentence is worse than a sentence in a vague section.

This module also holds the HTML-to-text helpers the other importers reuse (DLDB fields and
Integreat pages are HTML too), so every source yields the same plain text with "- " bullets.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import (
    BeautifulSoup,
    CData,
    MarkupResemblesLocatorWarning,
    NavigableString,
    Tag,
    XMLParsedAsHTMLWarning,
)
from bs4.dammit import UnicodeDammit
from pydantic import ValidationError

from knowledge.importers.base import ImportFailure, ImportResult, display_path, oversized_reason, read_bytes
from knowledge.models import SECTION_LABELS_DE, Link, Section, Service

SUFFIXES = {".html", ".htm"}
# Bounds on the work one file may cause, like the PDF importer's. Parsing needs about 25 bytes of memory
# per byte of markup (a 68 MB page took 1.6 GB), and a page's text must stay far below what the German
# analysis accepts (see `base.MAX_SERVICE_TEXT_CHARS`). Saved service pages are 20-500 KB; a page saved
# with its images embedded as data URLs can be larger, and is refused with a hint.
MAX_HTML_BYTES = 5_000_000

# --- Helpers shared with the other importers -------------------------------------------------

_TRANSLITERATION = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ẞ": "SS"}
)


def slugify(text: str, *, max_length: int = 80) -> str:
    """An id-safe ASCII slug; umlauts are spelled out so ids stay readable ("gebuehren", not "gebhren")."""
    composed = unicodedata.normalize("NFC", text).translate(_TRANSLITERATION)
    ascii_text = unicodedata.normalize("NFKD", composed).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        # Cut at a word boundary so the id does not end in half a word.
        slug = (cut.rsplit("-", 1)[0] if "-" in cut else cut).strip("-")
    return slug


def parse_date(value: object) -> date | None:
    """Best-effort date from the many spellings sources use; None rather than a guess if unreadable."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        try:
            return datetime.fromtimestamp(value, tz=UTC).date()
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    german = re.fullmatch(r"(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})", text)
    if german:
        try:
            return date(int(german[3]), int(german[2]), int(german[1]))
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(text).date()  # HTTP/RFC 2822 style, e.g. from Last-Modified
    except (TypeError, ValueError, IndexError):
        return None


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
_SENTENCE_END = re.compile(r"[.!?](?=\s)")


def clean_line(text: str) -> str:
    """One line of visible text: CMS output is full of nbsp, soft hyphens and doubled spaces."""
    return re.sub(r"\s+", " ", text.translate(_INVISIBLE)).strip()


def has_words(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def shorten(text: str, max_chars: int = 300) -> str:
    """Cut at a sentence end if possible, because answers quote whole sentences."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(cut)]
    if ends and ends[-1] >= max_chars // 3:
        return cut[: ends[-1]].strip()
    return cut[:max_chars].rsplit(" ", 1)[0].rstrip(" ,;:-") + " …"


def summarize(lines: Iterable[str], *, max_chars: int = 300) -> str:
    """A short lead from the first prose lines.

    Bullets and heading-like lines (short, no final punctuation) are left out: they do not stand
    alone, and gluing a heading onto the next sentence produces a sentence no official ever wrote.
    """
    picked: list[str] = []
    for line in lines:
        prose = not line.startswith("- ") and (line.endswith((".", "!", "?")) or len(line) >= 100)
        if not prose:
            if picked:
                break
            continue
        picked.append(line)
        if sum(len(p) for p in picked) >= max_chars // 2:
            break
    return shorten(" ".join(picked), max_chars)


def looks_like_html(text: str) -> bool:
    """Whether a field holds markup; plain text like "Einkommen < 1000 Euro" must not go through a parser."""
    return bool(re.search(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", text))


def describe_validation_error(exc: ValidationError) -> str:
    """Name the offending field, since editors fix sources field by field."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"Feld '{where}': {first['msg']}" if where else str(first["msg"])


@dataclass
class ConvertedHtml:
    """Plain lines (bullets as "- ...") and the links found, from an HTML page or fragment."""

    lines: list[str]
    links: list[Link]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def convert_html(markup: str, *, base_url: str = "") -> ConvertedHtml:
    """HTML fragment → text lines, for fields (DLDB descriptions, fees) that are not whole pages.

    Headings become ordinary lines here: inside a single field they are emphasis, not structure.
    """
    soup = _soup(markup)
    _check_nesting(soup)
    collector = _Collector(base_url=base_url, page_url=base_url)
    collector.visit(soup)
    return ConvertedHtml([block.text for block in collector.blocks], list(collector.links.values()))


def text_lines(value: object, *, base_url: str = "") -> ConvertedHtml:
    """Lines from a field that may be plain text (with CR/LF) or HTML, which sources mix freely."""
    if value is None or isinstance(value, bool):
        return ConvertedHtml([], [])
    text = str(value)
    if looks_like_html(text):
        return convert_html(text, base_url=base_url)
    lines = [_bullet(clean_line(line)) for line in re.split(r"\r\n|\r|\n", text)]
    return ConvertedHtml([line for line in lines if has_words(line)], [])


def _bullet(line: str) -> str:
    """Unify the bullet glyphs sources use, so downstream code only has to know "- "."""
    match = re.match(r"^(?:[•●▪◦■□➢►✓✔·]\s*|[-–*]\s+)(?=\S)", line)
    return f"- {line[match.end() :]}" if match else line


# --- HTML → blocks -----------------------------------------------------------------------------

_DROP_TAGS = [
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "aside",
    "footer",
    "svg",
    "iframe",
    "canvas",
    "object",
    "embed",
    "button",
    "select",
    "input",
    "textarea",
    "audio",
    "video",
    "head",
]
_DROP_ROLES = {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog"}
_DROP_CLASSES = {
    "sr-only",
    "visually-hidden",
    "visuallyhidden",
    "screen-reader-text",
    "skip-link",
    "skiplink",
}
_DROP_MARKERS = ("cookie", "breadcrumb")
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCK_TAGS = {
    "address",
    "article",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "form",
    "header",
    "hgroup",
    "hr",
    "html",
    "legend",
    "main",
    "p",
    "pre",
    "section",
    "summary",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
}
_LAYOUT_MARKERS = ["h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"]
_GENERIC_LINK_TEXTS = {
    "hier",
    "link",
    "mehr",
    "weiter",
    "weiterlesen",
    "mehr erfahren",
    "mehr informationen",
    "hier klicken",
    "klicken sie hier",
    "zum formular",
    "download",
    "pdf",
}


@dataclass
class _Block:
    kind: str  # "heading" or "line"
    text: str
    level: int = 0
    urls: list[str] = field(default_factory=list)  # links inside this line, for sections that show URLs


@dataclass
class _Collector:
    """Walks the DOM once, emitting lines as a reader sees them: blocks break lines, inline tags do not."""

    base_url: str
    page_url: str
    blocks: list[_Block] = field(default_factory=list)
    links: dict[str, Link] = field(default_factory=dict)
    _inline: list[str] = field(default_factory=list)
    _pending_urls: list[str] = field(default_factory=list)

    def visit(self, node: Tag) -> None:
        self._children(node)
        self._flush()

    def _child(self) -> _Collector:
        """A collector for one list item or cell, sharing links so nothing found there is lost."""
        return _Collector(base_url=self.base_url, page_url=self.page_url, links=self.links)

    def _children(self, node: Tag) -> None:
        for child in node.children:
            self._node(child)

    def _node(self, child: object) -> None:
        if isinstance(child, Tag):
            self._tag(child)
        elif type(child) is NavigableString or isinstance(child, CData):
            # Source newlines are just whitespace; only <br> and blocks break lines.
            self._inline.append(re.sub(r"\s+", " ", str(child)))

    def _tag(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADINGS:
            self._heading(tag)
        elif name == "br":
            self._inline.append("\n")
        elif name in ("ul", "ol"):
            self._flush()
            self._list(tag)
        elif name == "li":
            self._flush()
            self._item(tag)
        elif name == "table" and tag.find(_LAYOUT_MARKERS) is None:
            self._flush()
            self._table(tag)
        elif name == "a":
            self._remember_link(tag)
            self._children(tag)
        elif name in ("img", "picture", "source", "map", "area"):
            return  # alt texts in municipal CMSes are file names and icons, not content
        elif name in _BLOCK_TAGS or name == "table":
            self._flush()
            self._children(tag)
            self._flush()
        else:
            self._children(tag)

    def _flush(self) -> None:
        if not self._inline:
            return
        raw, self._inline = "".join(self._inline), []
        lines = [clean_line(part) for part in raw.split("\n")]
        added = [_Block("line", _bullet(line)) for line in lines if has_words(line)]
        if added:
            added[-1].urls, self._pending_urls = self._pending_urls, []
        self.blocks.extend(added)

    def _inner_text(self, node: Tag, *, skip: tuple[str, ...] = ()) -> tuple[str, list[str]]:
        inner = self._child()
        for child in node.children:
            if isinstance(child, Tag) and child.name in skip:
                continue
            inner._node(child)
        inner._flush()
        urls = [url for block in inner.blocks for url in block.urls]
        return " ".join(block.text for block in inner.blocks), urls

    def _heading(self, tag: Tag) -> None:
        self._flush()
        text, _ = self._inner_text(tag)
        if has_words(text):
            self.blocks.append(_Block("heading", text, int(tag.name[1])))

    def _list(self, lst: Tag) -> None:
        for child in lst.children:
            if isinstance(child, Tag) and child.name == "li":
                self._item(child)
            else:
                self._node(child)  # sloppy markup (<ul><p>…</p></ul>) still counts
        self._flush()

    def _item(self, li: Tag) -> None:
        text, urls = self._inner_text(li, skip=("ul", "ol"))
        text = re.sub(r"^(?:- |[•●▪◦■·]\s*)", "", text)
        if has_words(text):
            self.blocks.append(_Block("line", f"- {text}", urls=urls))
        for nested in li.find_all(["ul", "ol"], recursive=False):
            self._list(nested)  # flattened: our text format has one bullet level

    def _table(self, table: Tag) -> None:
        for caption in table.find_all("caption", limit=1):
            text, urls = self._inner_text(caption)
            if has_words(text):
                self.blocks.append(_Block("line", text, urls=urls))
        for row in table.find_all("tr"):
            found = [self._inner_text(cell) for cell in row.find_all(["th", "td"], recursive=False)]
            cells = [text for text, _ in found if has_words(text)]
            if cells:
                # Two cells is the typical "Montag | 8–12 Uhr" table; read it as a sentence fragment.
                line = ": ".join(cells) if len(cells) == 2 else " | ".join(cells)
                self.blocks.append(_Block("line", line, urls=[url for _, urls in found for url in urls]))

    def _remember_link(self, anchor: Tag) -> None:
        href = str(anchor.get("href") or "").strip()
        if not href or href.startswith("#"):
            return
        url = urljoin(self.base_url, href) if self.base_url else href
        if urlsplit(url).scheme.lower() not in ("http", "https", "mailto"):
            return  # tel:, javascript:, file: links cannot be shown to citizens as sources
        if self.page_url and url.split("#")[0] == self.page_url.split("#")[0]:
            return
        if url not in self._pending_urls:
            self._pending_urls.append(url)
        if url in self.links:
            return
        title = clean_line(anchor.get_text(" ")) or clean_line(str(anchor.get("title") or ""))
        if not has_words(title) or title.casefold().rstrip(".:") in _GENERIC_LINK_TEXTS:
            # "Hier" says nothing in a list of links; the surrounding sentence does.
            title = _sentence_around(anchor, title) or title or unquote(url.removeprefix("mailto:"))
        self.links[url] = Link(title=title.rstrip(" .,;:") or title, url=url)


def _sentence_around(anchor: Tag, anchor_text: str) -> str:
    """The sentence holding a link, to name links whose own text is just "hier"."""
    context = anchor.find_parent(["p", "li", "td", "dd"])
    if context is None:
        return ""
    sentences = re.split(r"(?<=[.!?])\s+", clean_line(context.get_text(" ")))
    needle = anchor_text.casefold()
    chosen = next((s for s in sentences if needle and needle in s.casefold()), sentences[0])
    return shorten(chosen, 100) if has_words(chosen) else ""


def _soup(markup: str) -> BeautifulSoup:
    with warnings.catch_warnings():
        # Short fields ("gebührenfrei", a bare URL) make bs4 warn that they look like file names.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        return BeautifulSoup(markup, "lxml")


def _content_root(soup: BeautifulSoup) -> Tag:
    """The element holding the page's own content, so site chrome never becomes an answer."""
    candidates: list[Tag | None] = [soup.find("main"), soup.select_one('[role="main"]')]
    articles = soup.find_all("article")
    if articles:
        candidates.append(max(articles, key=lambda tag: len(tag.get_text(" ", strip=True))))
    for candidate in candidates:
        if isinstance(candidate, Tag) and has_words(candidate.get_text(" ", strip=True)):
            return candidate
    return soup.body if isinstance(soup.body, Tag) else soup


def _is_noise(tag: Tag) -> bool:
    attrs = tag.attrs if isinstance(tag.attrs, dict) else {}
    if str(attrs.get("role", "")).lower() in _DROP_ROLES:
        return True
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).lower() == "true":
        return True
    classes: Any = attrs.get("class") or []
    class_list = classes.split() if isinstance(classes, str) else [str(c) for c in classes]
    if _DROP_CLASSES.intersection(c.lower() for c in class_list):
        return True
    marker_text = " ".join([*class_list, str(attrs.get("id", ""))]).lower()
    return any(marker in marker_text for marker in _DROP_MARKERS)


def _decomposed(tag: Tag) -> bool:
    """Whether `tag` was destroyed together with an ancestor dropped earlier.

    bs4's own `Tag.decomposed` reads an unset flag through `Tag.__getattr__`, which searches the whole
    subtree for a child tag of that name: quadratic on deeply nested pages (a 20,000-level page took
    minutes). The flag lives in the instance dict once set, so reading that is O(1).
    """
    return bool(vars(tag).get("_decomposed", False))


def _drop_noise(root: Tag) -> None:
    for tag in root.find_all(_DROP_TAGS):
        if not _decomposed(tag):
            tag.decompose()
    for tag in root.find_all("header"):
        # A header inside the article carries its h1; the site header (logo, search) does not.
        if not _decomposed(tag) and tag.find_parent(["article", "main", "section"]) is None:
            tag.decompose()
    for tag in root.find_all(True):
        if not _decomposed(tag) and _is_noise(tag):
            tag.decompose()


MAX_NESTING = 250  # real pages nest 20-60 levels; the text walk below is recursive


class HtmlTooDeepError(ValueError):
    """Markup nested deeper than `MAX_NESTING`: broken or built to exhaust the parser."""

    def __init__(self) -> None:
        super().__init__(f"HTML ist zu tief verschachtelt (mehr als {MAX_NESTING} Ebenen)")


def _check_nesting(root: Tag) -> None:
    """Refuse absurdly deep markup before walking it, iteratively (no recursion to exhaust)."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise HtmlTooDeepError
        stack.extend((child, depth + 1) for child in node.contents if isinstance(child, Tag))


# --- Headings → sections -----------------------------------------------------------------------

# Order matters: "Unterlagen und Formulare" is about documents, "Online-Formulare" is a form.
_HEADING_RULES: list[tuple[Section, re.Pattern[str]]] = [
    (
        Section.UNTERLAGEN,
        re.compile(
            r"unterlagen|was brauche ich|was benötige ich|was wird benötigt|mitbringen|mitzubringen"
            r"|^((benötigte|erforderliche|notwendige) )?(dokumente|nachweise)$"
        ),
    ),
    (
        Section.VORAUSSETZUNGEN,
        re.compile(
            r"voraussetzung|wer kann|wer darf|wer muss|wer hat anspruch|anspruchsberechtigt"
            r"|berechtigte personen"
        ),
    ),
    (Section.GEBUEHREN, re.compile(r"gebühr|\bkosten\b|\bkostet\b|\bpreise?\b|\bentgelte?\b")),
    (
        Section.FRISTEN,
        re.compile(r"\bfrist|frist(en)?\b|\bdauer\b|bearbeitungs(zeit|dauer)|wie lange|\bgültigkeit"),
    ),
    (
        Section.ONLINE_DIENST,
        re.compile(
            r"^online(\s|:|$)|online-?(dienst|service|antrag|verfahren|beantragung)"
            r"|online (beantragen|erledigen|stellen|einreichen)|digital beantragen"
        ),
    ),
    (Section.FORMULARE, re.compile(r"formular|\bdownloads?\b|\bvordrucke?\b|merkbl[aä]tt")),
    (
        Section.ZUSTAENDIGE_STELLE,
        re.compile(
            r"zuständig|ansprechp|\bkontakt|\badressen?\b|\banschrift|öffnungszeit|sprechzeit|\bstandorte?\b"
            r"|wo bekomme|wo beantrage"
        ),
    ),
    (
        Section.ABLAUF,
        re.compile(
            r"\bablauf|^verfahren\b|verfahrensablauf|so funktioniert|wie funktioniert|vorgehen"
            r"|^antragstellung|so gehen sie vor|wie beantrage|schritt für schritt"
        ),
    ),
]

# Headings that are nothing but a section label: the section already says it, so the line is dropped.
_PURE_LABELS = {label.casefold() for label in SECTION_LABELS_DE.values()} | {
    "voraussetzung",
    "erforderliche unterlagen",
    "benötigte unterlagen",
    "notwendige unterlagen",
    "was brauche ich",
    "was benötige ich",
    "dokumente",
    "nachweise",
    "gebühr",
    "kosten",
    "gebühren und kosten",
    "kosten und gebühren",
    "frist",
    "dauer",
    "bearbeitungszeit",
    "bearbeitungsdauer",
    "fristen und dauer",
    "verfahren",
    "verfahrensablauf",
    "so funktioniert's",
    "so funktioniert es",
    "so funktionierts",
    "zuständigkeit",
    "zuständig",
    "ansprechpartner",
    "ansprechpartnerin",
    "ansprechpersonen",
    "ansprechpartner*innen",
    "kontakt",
    "kontaktdaten",
    "adresse",
    "anschrift",
    "öffnungszeiten",
    "online",
    "online-dienste",
    "onlinedienst",
    "online-service",
    "formular",
    "downloads",
    "download",
    "formulare und merkblätter",
    "formulare und downloads",
}


def _heading_key(text: str) -> str:
    return clean_line(text).casefold().replace("’", "'").rstrip(" :?!.")


def classify_heading(text: str) -> Section | None:
    """The section a German heading introduces, or None if it is a topic of its own."""
    key = _heading_key(text)
    for section, pattern in _HEADING_RULES:
        if pattern.search(key):
            return section
    return None


_SECTIONS_WITH_URLS = {Section.ONLINE_DIENST, Section.FORMULARE}


def _with_urls(block: _Block) -> str:
    """In forms and online-service sections the URL is the answer, so it goes into the quotable text."""
    urls = [url for url in block.urls if url not in block.text and not url.startswith("mailto:")]
    if not urls:
        return block.text
    return f"{block.text.rstrip(' :')}: {', '.join(urls)}"


def _sections_from_blocks(blocks: list[_Block], *, title: str) -> dict[Section, str]:
    """Assign each line to the section of the nearest heading above it.

    An unknown subheading (e.g. "Reisepass für Kinder" under "Gebühren") stays in its parent's
    section; an unknown heading at the parent's level starts a new topic, which goes to the overview.
    """
    parts: dict[Section, list[str]] = {}
    current, opened_at = Section.UEBERBLICK, None
    title_key = _heading_key(title)
    title_seen = False
    for block in blocks:
        if block.kind == "heading" and block.level <= 4:
            if not title_seen and block.level == 1 and _heading_key(block.text) == title_key:
                title_seen = True
                continue
            section = classify_heading(block.text)
            if section is not None:
                current, opened_at = section, block.level
                if _heading_key(block.text) in _PURE_LABELS:
                    continue
            elif opened_at is None or block.level <= opened_at:
                current, opened_at = Section.UEBERBLICK, None
        text = _with_urls(block) if current in _SECTIONS_WITH_URLS else block.text
        parts.setdefault(current, []).append(text)
    return {section: "\n".join(lines) for section, lines in parts.items()}


# --- Pages → services --------------------------------------------------------------------------

_META_DATE_KEYS = (
    "last-modified",
    "dcterms.modified",
    "dc.date.modified",
    "article:modified_time",
    "og:updated_time",
    "dcterms.date",
    "date",
)


def _meta_date(soup: BeautifulSoup) -> date | None:
    for meta in soup.find_all("meta"):
        key = str(meta.get("name") or meta.get("property") or meta.get("http-equiv") or "").lower()
        if key in _META_DATE_KEYS:
            found = parse_date(str(meta.get("content") or ""))
            if found:
                return found
    return None


def _canonical_url(soup: BeautifulSoup) -> str | None:
    """Where a saved page really lives, so citizens get a working link instead of a file path."""
    for link in soup.find_all("link", href=True):
        rel: Any = link.get("rel") or []
        rels = rel.split() if isinstance(rel, str) else [str(r) for r in rel]
        href = str(link.get("href") or "")
        if "canonical" in (r.lower() for r in rels) and urlsplit(href).scheme in ("http", "https"):
            return href
    for meta in soup.find_all("meta", attrs={"property": "og:url"}):
        content = str(meta.get("content") or "")
        if urlsplit(content).scheme in ("http", "https"):
            return content
    return None


def _document_title(soup: BeautifulSoup) -> str:
    """<title> without the site name that CMSes append ("… - Landeshauptstadt München")."""
    if soup.title is None:
        return ""
    text = clean_line(soup.title.get_text(" "))
    for separator in (" | ", " – ", " — ", " - "):
        if separator in text:
            text = text.split(separator)[0].strip()
    return text


def _first_heading(root: Tag) -> str:
    heading = root.find("h1")
    return clean_line(heading.get_text(" ")) if isinstance(heading, Tag) else ""


def _language(soup: BeautifulSoup) -> str:
    html_tag = soup.find("html")
    lang = str(html_tag.get("lang") or "") if isinstance(html_tag, Tag) else ""
    match = re.match(r"[a-zA-Z]{2}", lang)
    return match.group(0).lower() if match else "de"


# an editor's search words at the end of a page ("Stichworte: Deutsch lernen, Sprachtest"), as
# Integreat pages carry them: words for finding the page, not a sentence to quote to a citizen
# ("Tags:" is no such label in German: "Tags: 8 bis 20 Uhr" means "during the day")
_KEYWORD_LINE = re.compile(r"^(?:stichw[oö]rte?|schlagw[oö]rte?|suchbegriffe|keywords)\s*:\s*(?P<words>.+)$", re.I)
MAX_KEYWORDS = 40


def _keyword_lines(blocks: list[_Block]) -> tuple[list[_Block], list[str]]:
    """The page's blocks without its keyword lines, and the keywords they list (retrieval fields)."""
    kept: list[_Block] = []
    keywords: list[str] = []
    seen: set[str] = set()
    for block in blocks:
        match = _KEYWORD_LINE.match(block.text.removeprefix("- ")) if block.kind == "line" else None
        if match is None:
            kept.append(block)
            continue
        for word in (clean_line(word) for word in re.split(r"[,;]", match["words"])):
            if has_words(word) and word.casefold() not in seen:
                seen.add(word.casefold())
                keywords.append(word)
    return kept, keywords[:MAX_KEYWORDS]


def _service_from_soup(
    soup: BeautifulSoup, *, url: str, title: str | None, updated: date | None, service_id: str | None
) -> Service | None:
    base = soup.find("base", href=True)
    base_url = urljoin(url, str(base.get("href"))) if isinstance(base, Tag) else url
    document_title = _document_title(soup)
    _check_nesting(soup)
    root = _content_root(soup)
    _drop_noise(root)
    h1 = _first_heading(root)
    collector = _Collector(base_url=base_url, page_url=url)
    collector.visit(root)
    blocks, keywords = _keyword_lines(collector.blocks)

    lines = [block.text for block in blocks if block.kind == "line"]
    url_name = clean_line(unquote(Path(urlsplit(url).path).stem).replace("-", " ").replace("_", " "))
    first_line = shorten(lines[0].removeprefix("- "), 80) if lines else ""
    candidates = [title or "", h1, document_title, first_line, url_name]
    page_title = next((clean_line(c) for c in candidates if len(clean_line(c)) >= 2), "Ohne Titel")

    sections = _sections_from_blocks(blocks, title=page_title)
    if not any(has_words(text) for text in sections.values()):
        return None
    first_heading = next((i for i, block in enumerate(blocks) if block.kind == "heading"), len(blocks))
    lead = [block.text for block in blocks[:first_heading] if block.kind == "line"] or lines
    sid = service_id or slugify(page_title) or "seite-" + hashlib.sha256(url.encode()).hexdigest()[:12]
    return Service(
        id=sid,
        title=page_title,
        summary=summarize(lead),
        sections=sections,
        links=list(collector.links.values()),
        keywords=keywords,
        source_url=url,
        updated=updated or _meta_date(soup),
        language=_language(soup),
    )


def parse_html_page(
    html: str,
    *,
    url: str,
    title: str | None = None,
    updated: date | None = None,
    service_id: str | None = None,
) -> Service | None:
    """One page → one service, or None if the page has no text (callers record it as skipped).

    Raises pydantic's ValidationError only when the caller's id or the page title cannot form a
    valid service; loaders turn that into an `ImportFailure`.
    """
    return _service_from_soup(_soup(html), url=url, title=title, updated=updated, service_id=service_id)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Older municipal sites still serve ISO-8859-1; let bs4 read the declared charset.
        return UnicodeDammit(raw, is_html=True).unicode_markup or raw.decode("latin-1")


_BINARY_SAMPLE = 8192
_MAX_BINARY_RATIO = 0.05


def looks_binary(text: str) -> bool:
    """Control characters or undecodable bytes in more than 5 % of the start: an image, archive or noise.

    bs4 turns any bytes into some text, so without this check a stray binary file named .html would
    become a "service" full of garbage that retrieval could quote to citizens.
    """
    sample = text[:_BINARY_SAMPLE]
    if not sample:
        return False
    odd = sum(1 for ch in sample if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f"))
    return odd / len(sample) > _MAX_BINARY_RATIO


def load_html_file(path: Path) -> ImportResult:
    """Import a saved web page; its canonical URL (if any) becomes the source citizens are shown."""
    path = Path(path)
    shown = display_path(path)
    too_big = _too_big(path)
    if too_big:
        return ImportResult(failures=[ImportFailure(shown, too_big)])
    raw, problem = read_bytes(path, shown)
    if problem:
        return problem
    try:
        markup = _decode(raw)
        if looks_binary(markup):
            return ImportResult(failures=[ImportFailure(shown, "keine HTML-Datei: enthält Binärdaten")])
        soup = _soup(markup)
        url = _canonical_url(soup) or path.resolve().as_uri()
        service = _service_from_soup(soup, url=url, title=None, updated=None, service_id=None)
    except ValidationError as exc:
        return ImportResult(failures=[ImportFailure(shown, describe_validation_error(exc))])
    except HtmlTooDeepError as exc:
        return ImportResult(failures=[ImportFailure(shown, str(exc))])
    except Exception as exc:  # one odd page must not stop an ingest run; the report names it
        reason = f"HTML nicht verarbeitbar: {type(exc).__name__}: {exc}"
        return ImportResult(failures=[ImportFailure(shown, reason)])
    if service is None:
        return ImportResult(skipped=[ImportFailure(shown, "leere Seite")])
    oversized = oversized_reason(service)
    if oversized:
        return ImportResult(failures=[ImportFailure(shown, oversized)])
    return ImportResult(services=[service.model_copy(update={"origin": shown})])


def _too_big(path: Path) -> str | None:
    """Checked on the file's size before it is read, so a huge file costs no memory at all."""
    try:
        size = path.stat().st_size
    except OSError:
        return None  # `read_bytes` reports why the file cannot be read
    if size <= MAX_HTML_BYTES:
        return None
    return (
        f"HTML-Datei ist zu groß ({size / 1_000_000:.1f} MB, höchstens {MAX_HTML_BYTES / 1_000_000:.0f} MB); "
        "bitte die Seite ohne eingebettete Bilder speichern oder aufteilen"
    )
