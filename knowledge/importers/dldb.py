"""Importer for the Dienstleistungsdatenbank (DLDB) JSON export used by Berlin's service portal.

The format (documented with the zmsdldb client) is the closest thing to a standard German
municipalities publish, and Munich's service data has been converted to it, so supporting it means
real, structured content without scraping. Its fields map almost one-to-one onto our sections;
list entries are objects like {"name", "description", "link"} and many texts contain HTML.

We only add labels ("Rechtsgrundlagen:", "Online-Dienst: <url>"), never sentences of our own,
because answers quote the official text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pydantic import ValidationError

from knowledge.importers.base import ImportFailure, ImportResult, display_path, failure, read_json
from knowledge.importers.html import (
    HtmlTooDeepError,
    clean_line,
    describe_validation_error,
    has_words,
    parse_date,
    slugify,
    summarize,
    text_lines,
)
from knowledge.models import Link, Section, Service

SUFFIXES = {".json"}
DLDB_MARKERS = frozenset({"leika", "requirements", "prerequisites"})


def looks_like_dldb(item: object) -> bool:
    """Whether a JSON object is a DLDB service; used to tell DLDB files from other JSON."""
    return isinstance(item, dict) and bool(DLDB_MARKERS.intersection(item))


@dataclass
class _Entry:
    name: str
    description: str
    link: str


@dataclass
class _Builder:
    """Collects lines per section and links in source order, deduplicating links by URL."""

    base_url: str
    sections: dict[Section, list[str]] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)

    def add(self, section: Section, lines: list[str]) -> None:
        if lines:
            self.sections.setdefault(section, []).extend(lines)

    def link(self, title: str, url: str) -> str:
        """Remember a link and return its absolute URL ('' if it is not one citizens can open)."""
        absolute = urljoin(self.base_url, url.strip()) if self.base_url else url.strip()
        if urlsplit(absolute).scheme.lower() not in ("http", "https", "mailto"):
            return ""
        self.links.setdefault(absolute, Link(title=clean_line(title) or absolute, url=absolute))
        return absolute

    def text(self, value: object) -> list[str]:
        converted = text_lines(value, base_url=self.base_url)
        for found in converted.links:
            self.links.setdefault(found.url, found)
        return converted.lines


def _one_line(builder: _Builder, value: object) -> str:
    """A field squeezed into one bullet, since list entries in our format are single lines."""
    return " ".join(line.removeprefix("- ") for line in builder.text(value))


def _entries(builder: _Builder, value: object) -> list[_Entry]:
    if value is None or isinstance(value, bool):
        return []
    items = value if isinstance(value, list) else [value]
    entries: list[_Entry] = []
    for item in items:
        if isinstance(item, dict):
            name = _one_line(builder, item.get("name") or item.get("title"))
            description = _one_line(builder, item.get("description"))
            raw_link = item.get("link") or item.get("url") or item.get("webinfo")
            link = raw_link.strip() if isinstance(raw_link, str) else ""
            if has_words(name) or has_words(description) or link:
                entries.append(_Entry(name, description, link))
        elif isinstance(item, str | int | float):
            entries.extend(_Entry(line.removeprefix("- "), "", "") for line in builder.text(item))
    return entries


def _bullets(builder: _Builder, entries: list[_Entry], *, show_links: bool = False) -> list[str]:
    lines = []
    for entry in entries:
        url = builder.link(entry.name or entry.description, entry.link) if entry.link else ""
        parts = [entry.name] if entry.name else []
        if entry.description:
            parts.append(entry.description)
        if show_links and url:
            parts.append(url)
        if not parts:
            continue
        line = parts[0]
        for part in parts[1:]:
            line += (" " if line.endswith((".", "!", "?", ":")) else ": ") + part
        lines.append(f"- {line}")
    return lines


def _online(builder: _Builder, value: object, service_name: str) -> list[str]:
    """`onlineprocessing` is an object {description, link}, but exports also use URLs or lists."""
    if value is None or isinstance(value, bool):
        return []
    lines: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str) and re.match(r"https?://\S+$", item.strip()):
            item = {"link": item}
        if isinstance(item, dict):
            lines.extend(builder.text(item.get("name")))
            lines.extend(builder.text(item.get("description")))
            raw_link = item.get("link") or item.get("url")
            if isinstance(raw_link, str) and raw_link.strip():
                url = builder.link(f"Online-Dienst: {service_name}", raw_link)
                if url:
                    lines.append(f"Online-Dienst: {url}")
        else:
            lines.extend(builder.text(item))
    return lines


def _location_lines(builder: _Builder, locations: object) -> list[str]:
    """Named locations with address; Berlin's bare location ids mean nothing to citizens, so we omit them."""
    lines: list[str] = []
    for location in locations if isinstance(locations, list) else []:
        if not isinstance(location, dict):
            continue
        name = _one_line(builder, location.get("name"))
        if not name:
            continue
        parts = [name]
        address = location.get("address")
        if isinstance(address, dict):
            street = clean_line(f"{address.get('street') or ''} {address.get('house_number') or ''}")
            city = clean_line(f"{address.get('postal_code') or ''} {address.get('city') or ''}")
            parts.extend(part for part in (street, city) if part)
        elif isinstance(address, str) and address.strip():
            parts.append(clean_line(address))
        hint = _one_line(builder, location.get("hint"))
        line = "- " + ", ".join(parts) + (f" ({hint})" if hint else "")
        lines.append(line)
        url = location.get("url")
        if isinstance(url, str) and url.strip():
            builder.link(name, url)
    return lines


def _keywords(*values: object) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        if isinstance(value, str):
            items: list[object] = list(re.split(r"[,;\n]", value))
        else:
            items = value if isinstance(value, list) else []
        for item in items:
            keyword = clean_line(html.unescape(str(item)))
            if has_words(keyword):
                seen.setdefault(keyword.casefold(), keyword)
    return list(seen.values())


def _service(item: object, *, where: str, file_uri: str) -> ImportResult:
    if not isinstance(item, dict):
        return failure(where, "Eintrag ist kein Objekt (erwartet einen Dienst mit id und name)")
    raw_id = item.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not slugify(str(raw_id)):
        return failure(where, "Feld 'id' fehlt oder ist ungültig")
    service_id = f"dldb-{slugify(str(raw_id), max_length=110)}"
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    meta_url = meta.get("url") or item.get("url")
    has_url = isinstance(meta_url, str) and bool(meta_url.strip())
    source_url = meta_url.strip() if has_url else f"{file_uri}#{service_id}"
    builder = _Builder(base_url=source_url if source_url.startswith("http") else "")
    name = _one_line(builder, item.get("name"))
    if len(name) < 2:
        return failure(where, f"Dienst {raw_id}: Feld 'name' fehlt")

    description = builder.text(item.get("description"))
    builder.add(Section.UEBERBLICK, description)
    legal = _bullets(builder, _entries(builder, item.get("legal")))
    builder.add(Section.UEBERBLICK, ["Rechtsgrundlagen:", *legal] if legal else [])
    builder.add(Section.VORAUSSETZUNGEN, _bullets(builder, _entries(builder, item.get("prerequisites"))))
    builder.add(Section.UNTERLAGEN, _bullets(builder, _entries(builder, item.get("requirements"))))
    builder.add(Section.GEBUEHREN, builder.text(item.get("fees")))
    builder.add(Section.FRISTEN, builder.text(item.get("process_time")))
    builder.add(Section.ZUSTAENDIGE_STELLE, builder.text(item.get("responsibility")))
    builder.add(Section.ZUSTAENDIGE_STELLE, _bullets(builder, _entries(builder, item.get("authorities"))))
    builder.add(Section.ZUSTAENDIGE_STELLE, _location_lines(builder, item.get("locations")))
    builder.add(Section.ONLINE_DIENST, _online(builder, item.get("onlineprocessing"), name))
    builder.add(Section.ONLINE_DIENST, _online(builder, item.get("onlineservices"), name))
    appointment = item.get("appointment")
    appointment_link = appointment.get("link") if isinstance(appointment, dict) else None
    if isinstance(appointment_link, str) and appointment_link.strip():
        url = builder.link("Termin vereinbaren", appointment_link)
        builder.add(Section.ONLINE_DIENST, [f"Termin vereinbaren: {url}"] if url else [])
    builder.add(Section.FORMULARE, _bullets(builder, _entries(builder, item.get("forms")), show_links=True))
    for entry in _entries(builder, item.get("links")):
        if entry.link:
            builder.link(entry.name or entry.description, entry.link)

    if not builder.sections:
        return ImportResult(skipped=[ImportFailure(where, f"Dienst {raw_id} ohne Inhalt (nur Name)")])
    locale = meta.get("locale") or item.get("locale")
    language = locale[:2].lower() if isinstance(locale, str) and re.match(r"[a-zA-Z]{2}", locale) else "de"
    try:
        service = Service(
            id=service_id,
            title=name,
            summary=summarize(description),
            sections={section: "\n".join(lines) for section, lines in builder.sections.items()},
            keywords=_keywords(meta.get("keywords"), item.get("keywords")),
            links=list(builder.links.values()),
            source_url=source_url,
            updated=parse_date(meta.get("lastupdate")),
            language=language,
            origin=where,
        )
    except ValidationError as exc:
        return failure(where, f"Dienst {raw_id}: {describe_validation_error(exc)}")
    return ImportResult(services=[service])


def _service_list(data: object) -> list[object] | str:
    """The services in an export, or the reason there are none we can read."""
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        return "erwartet eine Liste von Diensten oder ein Objekt mit 'data' bzw. 'services'"
    if data.get("error") is True:
        return f"Export meldet einen Fehler: {data.get('message') or 'ohne Meldung'}"
    for key in ("data", "services"):
        if isinstance(data.get(key), list):
            return data[key]
    if "id" in data and "name" in data:
        return [data]  # a single service saved on its own
    return "erwartet eine Liste von Diensten oder ein Objekt mit 'data' bzw. 'services'"


def load_dldb_file(path: Path) -> ImportResult:
    """Import every service of one DLDB export; each broken entry is reported with its index."""
    path = Path(path)
    shown = display_path(path)
    data, problem = read_json(path, shown, encoding="utf-8-sig")
    if problem:
        return problem
    services = _service_list(data)
    if isinstance(services, str):
        return failure(shown, services)
    file_uri = path.resolve().as_uri()
    result = ImportResult()
    for index, item in enumerate(services):
        where = f"{shown}[{index}]"
        try:
            result.extend(_service(item, where=where, file_uri=file_uri))
        except HtmlTooDeepError as exc:
            result.extend(failure(where, str(exc)))
        except Exception as exc:  # one odd entry must not stop the others; the report names it
            result.extend(failure(where, f"Eintrag nicht verarbeitbar ({type(exc).__name__}: {str(exc)[:200]})"))
    return result
