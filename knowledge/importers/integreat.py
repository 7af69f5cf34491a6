"""Importer for Integreat page exports (the municipal migrant-information app's JSON page API).

Exports are lists of CMS pages named `<region>_<language>.json`. Many pages are empty parents of
a page tree; those are skipped, not failed, so the report only flags what an editor must fix. Ids
carry the region because page ids are only unique within one Integreat instance's exports.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from pydantic import ValidationError

from knowledge.importers.base import ImportFailure, ImportResult, display_path, failure, read_json
from knowledge.importers.html import (
    HtmlTooDeepError,
    describe_validation_error,
    parse_date,
    parse_html_page,
    slugify,
)

SUFFIXES = {".json"}
EMPTY_PAGE = "leere Seite"
_FILE_NAME = re.compile(r"^(?P<region>.+)_(?P<language>[a-z]{2}(?:-[a-z]+)?)$", re.IGNORECASE)


def region_and_language(path: Path) -> tuple[str, str]:
    """`lkaugsburg_de.json` → ("lkaugsburg", "de"); without a language suffix we assume German."""
    match = _FILE_NAME.match(path.stem)
    if match:
        return slugify(match["region"]) or "region", match["language"].lower()[:2]
    return slugify(path.stem) or "region", "de"


def _import_page(item: object, *, where: str, region: str, language: str) -> ImportResult:
    if not isinstance(item, dict):
        return failure(where, "Eintrag ist kein Objekt (erwartet eine Seite mit id, url, title, content)")
    page_id = item.get("id")
    if isinstance(page_id, bool) or not isinstance(page_id, int | str) or not slugify(str(page_id)):
        return failure(where, "Feld 'id' fehlt oder ist ungültig")
    url, title, content = item.get("url"), item.get("title"), item.get("content")
    if not isinstance(url, str) or not url.strip():
        return failure(where, f"Seite {page_id}: Feld 'url' fehlt")
    if not isinstance(title, str) or not title.strip():
        return failure(where, f"Seite {page_id}: Feld 'title' fehlt")
    if content is not None and not isinstance(content, str):
        return failure(where, f"Seite {page_id}: Feld 'content' ist kein Text")
    if not content or not content.strip():
        return ImportResult(skipped=[ImportFailure(where, EMPTY_PAGE)])
    updated = parse_date(item.get("last_updated")) or parse_date(item.get("modified_gmt"))
    try:
        service = parse_html_page(
            content,
            url=url.strip(),
            title=html.unescape(title).strip(),
            updated=updated,
            service_id=f"integreat-{region}-{slugify(str(page_id))}",
        )
    except ValidationError as exc:
        return failure(where, f"Seite {page_id}: {describe_validation_error(exc)}")
    except HtmlTooDeepError as exc:
        return failure(where, f"Seite {page_id}: {exc}")
    except Exception as exc:  # one odd page must not stop the other few hundred
        return failure(where, f"Seite {page_id}: HTML nicht verarbeitbar ({type(exc).__name__}: {exc})")
    if service is None:
        return ImportResult(skipped=[ImportFailure(where, EMPTY_PAGE)])
    return ImportResult(services=[service.model_copy(update={"origin": where, "language": language})])


def load_integreat_export(path: Path) -> ImportResult:
    """Import every page of one export; per-page problems are reported with the page's list index."""
    path = Path(path)
    shown = display_path(path)
    data, problem = read_json(path, shown)
    if problem:
        return problem
    if not isinstance(data, list):
        return failure(shown, "erwartet eine Liste von Seiten (Integreat-Export)")
    region, language = region_and_language(path)
    result = ImportResult()
    for index, item in enumerate(data):
        result.extend(_import_page(item, where=f"{shown}[{index}]", region=region, language=language))
    return result
