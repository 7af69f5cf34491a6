"""Importer for PDF documents (forms, Merkblätter) published next to the service pages.

PDFs are where cities hide the details ("Merkblatt Anwohnerparken"), but they are also the files
most often broken: truncated downloads, password protection, scans without a text layer. Each of
those becomes a failure with a German reason an editor can act on, never an exception, and never a
half-read document that silently answers with missing pages.

A sidecar file `<name>.pdf.meta.yaml` may give the public `source_url` (and `title`, `id`,
`updated`, `keywords`, `summary`, `language`), because a PDF on disk does not know where it is
published and citizens need a link they can open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from io import BytesIO
from pathlib import Path

import yaml
from pydantic import ValidationError
from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError, WrongPasswordError

from knowledge.importers.base import (
    ImportFailure,
    ImportResult,
    display_path,
    limit_reason,
    oversized_reason,
    read_bytes,
)
from knowledge.importers.html import (
    clean_line,
    describe_validation_error,
    has_words,
    parse_date,
    shorten,
    slugify,
    summarize,
)
from knowledge.models import Link, Section, Service

SUFFIXES = {".pdf"}
SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml")
_SIDECAR_KEYS = {"source_url", "title", "id", "updated", "keywords", "summary", "language"}
_PLACEHOLDER_TITLES = {
    "untitled",
    "unbenannt",
    "ohne titel",
    "titel",
    "title",
    "dokument",
    "document",
    "dokument1",
    "document1",
    "microsoft word",
}
_MAX_LINKS = 50
# Bounds on the work one file may cause. A few KB of Flate data can inflate to megabytes of text operators,
# and pypdf needs about half a minute per megabyte to extract them on a busy core: without these limits one
# hostile or broken PDF stalls an ingest run for many minutes. Real forms and Merkblätter stay far below
# (a dense text page is 10-100 KB of operators).
MAX_PAGES = 500
MAX_PAGE_CONTENT_BYTES = 1_000_000
MAX_DOCUMENT_CONTENT_BYTES = 5_000_000
# Words a German sentence cannot end with: a line ending in one was broken by the layout.
_CONTINUING_WORDS = frozenset(
    [
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "einen",
        "einem",
        "einer",
        "eines",
        "und",
        "oder",
        "sowie",
        "mit",
        "für",
        "von",
        "zu",
        "zum",
        "zur",
        "im",
        "in",
        "an",
        "am",
        "auf",
        "bei",
        "aus",
        "nach",
        "über",
        "unter",
        "vor",
        "durch",
        "ohne",
        "gegen",
        "um",
        "sie",
        "ihr",
        "ihre",
        "ihren",
        "ihrem",
        "ihres",
        "ist",
        "sind",
        "werden",
        "wird",
        "wenn",
        "dass",
        "als",
        "wie",
    ]
)
_ENCRYPTED = "PDF ist passwortgeschützt (verschlüsselt) und lässt sich ohne Passwort nicht öffnen"


class _UnreadableError(Exception):
    """Internal signal carrying the German reason a PDF cannot be imported."""


@dataclass
class _PdfContent:
    pages: list[str]
    title: str = ""
    updated: date | None = None
    links: list[Link] = field(default_factory=list)
    unreadable_pages: list[int] = field(default_factory=list)


def sidecar_for(path: Path) -> Path | None:
    """The sidecar next to a PDF, if one exists; directory walks use this to skip sidecars."""
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def is_sidecar(path: Path) -> bool:
    return path.name.lower().endswith(SIDECAR_SUFFIXES)


def _read_sidecar(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise _UnreadableError(f"Begleitdatei {path.name} nicht lesbar: {exc}") from exc
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _UnreadableError(f"Begleitdatei {path.name}: Syntaxfehler: {first}") from exc
    except (ValueError, RecursionError) as exc:  # impossible dates, parser limits
        raise _UnreadableError(f"Begleitdatei {path.name}: {limit_reason(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _UnreadableError(f"Begleitdatei {path.name}: erwartet Felder wie source_url und title")
    unknown = sorted(str(key) for key in data if key not in _SIDECAR_KEYS)
    if unknown:
        # A typo like "source-url" would otherwise silently leave citizens with a file:// link.
        allowed = ", ".join(sorted(_SIDECAR_KEYS))
        reason = f"Begleitdatei {path.name}: unbekanntes Feld '{unknown[0]}' (erlaubt: {allowed})"
        raise _UnreadableError(reason)
    return data


def _check_container(data: bytes) -> None:
    """Cheap structural checks pypdf's lenient parser would paper over."""
    if not data.strip():
        raise _UnreadableError("leere Datei")
    if b"%PDF-" not in data[:1024]:
        raise _UnreadableError("keine PDF-Datei (Kennung %PDF- fehlt am Dateianfang)")
    if b"%%EOF" not in data[-2048:]:
        # pypdf can often rebuild a truncated file, but pages at the end would be missing unnoticed.
        raise _UnreadableError("PDF ist unvollständig (abgeschnitten): die Endmarkierung %%EOF fehlt")


def _metadata(reader: PdfReader) -> tuple[str, date | None]:
    try:
        info = reader.metadata
        if info is None:
            return "", None
        title = re.sub(r"^microsoft word - ", "", clean_line(str(info.title or "")), flags=re.IGNORECASE)
        updated = None
        for getter in ("modification_date", "creation_date"):
            try:
                updated = parse_date(getattr(info, getter))
            except (ValueError, TypeError, PyPdfError):
                updated = None
            if updated:
                break
        return title, updated
    except (ValueError, TypeError, KeyError, AttributeError, PyPdfError):
        return "", None  # metadata is optional; a broken info dictionary must not lose the text


def _uri_links(reader: PdfReader) -> list[Link]:
    """Link annotations, because forms often point to the online service or the next form."""
    found: dict[str, Link] = {}
    for page in reader.pages:
        try:
            annotations = page.get("/Annots")
            if annotations is None:
                continue
            for reference in annotations.get_object():
                annotation = reference.get_object()
                action = annotation.get("/A")
                uri = str(action.get_object().get("/URI") or "") if action else ""
                if re.match(r"https?://", uri) and uri not in found:
                    found[uri] = Link(title=shorten(uri, 100), url=uri)
        except (ValueError, TypeError, KeyError, AttributeError, PyPdfError):
            continue
        if len(found) >= _MAX_LINKS:
            break
    return list(found.values())


def _check_content_size(page: PageObject, number: int, total_so_far: int) -> int:
    """Inflated size of a page's content stream, refusing pages and documents beyond the limits above.

    Inflating is cheap compared with text extraction, so the check runs before `extract_text`.
    """
    try:
        contents = page.get_contents()
        size = len(contents.get_data()) if contents is not None else 0
    except Exception:  # a damaged stream is reported by the text extraction that follows
        return 0
    if size > MAX_PAGE_CONTENT_BYTES:
        raise _UnreadableError(
            f"Seite {number} enthält ungewöhnlich viele Seitendaten ({size / 1_000_000:.1f} MB entpackt, höchstens "
            f"{MAX_PAGE_CONTENT_BYTES / 1_000_000:.0f} MB): Datei beschädigt oder absichtlich aufgebläht"
        )
    if total_so_far + size > MAX_DOCUMENT_CONTENT_BYTES:
        raise _UnreadableError(
            f"PDF enthält mehr als {MAX_DOCUMENT_CONTENT_BYTES / 1_000_000:.0f} MB entpackte Seitendaten; "
            "bitte in kleinere Dokumente aufteilen"
        )
    return size


def _read_pdf(data: bytes) -> _PdfContent:
    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted:
            try:
                outcome = reader.decrypt("")
            except DependencyError as exc:
                raise _UnreadableError(
                    "PDF ist mit AES verschlüsselt; zum Öffnen fehlt das Python-Paket 'cryptography'"
                ) from exc
            if outcome == PasswordType.NOT_DECRYPTED:
                raise _UnreadableError(_ENCRYPTED)
        pages: list[str] = []
        unreadable: list[int] = []
        total_content = 0
        for number, page in enumerate(reader.pages, start=1):
            if number > MAX_PAGES:
                raise _UnreadableError(f"PDF hat mehr als {MAX_PAGES} Seiten; bitte in kleinere Dokumente aufteilen")
            total_content += _check_content_size(page, number, total_content)
            try:
                pages.append(page.extract_text() or "")
            except (FileNotDecryptedError, WrongPasswordError):
                raise
            except Exception:  # one damaged content stream should cost one page, not the document
                unreadable.append(number)
                pages.append("")
        title, updated = _metadata(reader)
        links = _uri_links(reader)
    except _UnreadableError:
        raise
    except (FileNotDecryptedError, WrongPasswordError) as exc:
        raise _UnreadableError(_ENCRYPTED) from exc
    except PyPdfError as exc:
        raise _UnreadableError(f"PDF ist beschädigt und nicht lesbar: {exc}") from exc
    except Exception as exc:  # pypdf raises plain ValueError/KeyError/… on malformed files
        raise _UnreadableError(f"PDF ist beschädigt und nicht lesbar ({type(exc).__name__}: {exc})") from exc
    if unreadable and len(unreadable) == len(pages):
        raise _UnreadableError("PDF ist beschädigt: keine Seite lässt sich lesen")
    return _PdfContent(pages, title, updated, links, unreadable)


def _clean_text(text: str) -> list[str]:
    """Text lines fit for quoting: hyphenation undone, bullets unified, form blanks removed.

    Lines broken mid-sentence by the layout are joined when the next line starts in lower case or
    the line ends with a comma or a word no sentence ends with ("den", "und"). Capitalised nouns
    make a bolder guess unreliable, and a wrong join (heading glued to text) is worse than a short line.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"(\w)-\n(?=[a-zäöüß])", r"\1", text)
    lines: list[str] = []
    for raw in text.split("\n"):
        line = clean_line(re.sub(r"[_.…]{4,}", " ", raw))
        line = re.sub(r"^(?:[•●▪◦■□☐➢►✓✔]\s*|[-–*]\s+)(?=\S)", "- ", line)
        if not has_words(line):
            continue
        previous = lines[-1] if lines else ""
        if previous and not line.startswith("- ") and _continues(previous, line):
            lines[-1] = f"{previous} {line}"
        else:
            lines.append(line)
    return lines


def _continues(previous: str, line: str) -> bool:
    if previous.endswith((":", ".", "!", "?")):
        return False
    last_word = previous.rsplit(" ", 1)[-1].casefold()
    return line[0].islower() or previous.endswith(",") or last_word in _CONTINUING_WORDS


def _usable_title(title: str) -> bool:
    key = title.casefold().removeprefix("microsoft word - ").strip()
    if len(key) < 2 or key in _PLACEHOLDER_TITLES:
        return False
    return not re.search(r"\.(docx?|odt|pdf|rtf|indd|xlsx?|pptx?)$", key)


def load_pdf_file(path: Path, *, sidecar: Path | None = None) -> ImportResult:
    """Import one PDF as a service whose text is the form/Merkblatt itself (section FORMULARE)."""
    path = Path(path)
    shown = display_path(path)
    data, problem = read_bytes(path, shown)
    if problem:
        return problem
    try:
        _check_container(data)
        side_path = sidecar or sidecar_for(path)
        meta = _read_sidecar(side_path) if side_path else {}
        content = _read_pdf(data)
    except _UnreadableError as exc:
        return ImportResult(failures=[ImportFailure(shown, str(exc))])

    lines = [line for page in content.pages for line in _clean_text(page)]
    if not lines:
        return ImportResult(
            failures=[
                ImportFailure(
                    shown,
                    "PDF enthält keinen lesbaren Text (vermutlich ein Scan; Texterkennung/OCR wäre nötig)",
                )
            ]
        )

    first_line = shorten(lines[0].removeprefix("- "), 100)
    stem_title = clean_line(path.stem.replace("_", " ").replace("-", " "))
    title = str(meta.get("title") or "").strip() or next(
        (t for t in (content.title, first_line, stem_title) if _usable_title(t)), path.name
    )
    body = lines[1:] if lines[0] == title and len(lines) > 1 else lines
    summary = str(meta.get("summary") or "").strip() or summarize(body)
    keywords = meta.get("keywords") or []
    result = ImportResult()
    try:
        service = Service(
            id=str(meta.get("id") or slugify(path.stem) or "pdf-" + slugify(path.name)),
            title=title,
            summary=summary,
            sections={Section.UEBERBLICK: summary, Section.FORMULARE: "\n".join(lines)},
            keywords=[str(k) for k in keywords] if isinstance(keywords, list) else [str(keywords)],
            links=content.links,
            source_url=str(meta.get("source_url") or path.resolve().as_uri()),
            updated=parse_date(meta.get("updated")) or content.updated,
            language=str(meta.get("language") or "de"),
            origin=shown,
        )
    except ValidationError as exc:
        return ImportResult(failures=[ImportFailure(shown, describe_validation_error(exc))])
    oversized = oversized_reason(service)  # the content-stream limits above bound time, this bounds the text
    if oversized:
        return ImportResult(failures=[ImportFailure(shown, oversized)])
    result.services.append(service)
    if content.unreadable_pages:
        pages = ", ".join(str(n) for n in content.unreadable_pages)
        result.skipped.append(ImportFailure(shown, f"Seite(n) {pages} beschädigt, ohne Text übernommen"))
    return result
