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
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
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
LOCATION_MARKERS = frozenset({"address", "services"})
_TEMPLATE = re.compile(r"\{(serviceId|service_id|locationId|location_id|officeId)\}")
# Editors' notes that a whole entry is not meant for citizens. General phrases of German CMS editors,
# not words of one export: such an entry is skipped with its reason, never shown.
_INTERNAL_NOTE = re.compile(
    r"von einer veröffentlichung[^.]{0,80}abgesehen|nicht (?:zu |zur )?veröffentlich|nicht öffentlich anzeigen|"
    r"fake[- ]?dienstleistung|nur für den internen gebrauch|interne dienstleistung|platzhalter-?dienstleistung",
    re.IGNORECASE,
)


def looks_like_dldb(item: object) -> bool:
    """Whether a JSON object is a DLDB service; used to tell DLDB files from other JSON."""
    return isinstance(item, dict) and bool(DLDB_MARKERS.intersection(item))


def looks_like_dldb_location(item: object) -> bool:
    """Whether a JSON object is a DLDB location (office): an address and the services offered there."""
    return isinstance(item, dict) and item.keys() >= LOCATION_MARKERS and not looks_like_dldb(item)


def fill_template(url: str, service_id: str = "", location_id: str = "") -> str:
    """Fill the export's URL placeholders; a link with a placeholder left would lead nowhere."""

    def value(match: re.Match[str]) -> str:
        return service_id if match.group(1).startswith("service") else location_id

    filled = _TEMPLATE.sub(value, url)
    # "….html/#/services/1" as exported: the booking front end's documented form has no slash before "#"
    return filled.replace(".html/#/", ".html#/")


def booking_base(url: str) -> str:
    """The booking page without its hash route: "…/terminvereinbarung.html/#/services/1" → "….html".

    Munich's booking front end (zmscitizenview) routes `#/services/{id}` and
    `#/services/{id}/locations/{office}`; the trailing slash the export puts before `#` is dropped.
    """
    return url.split("#", 1)[0].rstrip("/")


@dataclass(frozen=True)
class Office:
    """A DLDB location: where citizens go, how to reach it, and which services it offers (and how)."""

    id: str
    name: str
    unit: str
    street: str
    city: str
    phone: str
    email: str
    public: bool
    bookable: frozenset[str]  # service ids that can be booked online at this office

    def line(self) -> str:
        """The office as one bullet, in the words of the export (name, unit, address, contact)."""
        name = f"{self.name} ({self.unit})" if self.unit and self.unit not in self.name else self.name
        parts = [name, *(p for p in (self.street, self.city) if p)]
        if self.phone:
            parts.append(f"Telefon {self.phone}")
        if self.email:
            parts.append(f"E-Mail {self.email}")
        return "- " + ", ".join(parts)


def _text(value: object) -> str:
    return clean_line(html.unescape(str(value))) if isinstance(value, str | int) and not isinstance(value, bool) else ""


def _obj(value: object) -> dict[str, Any]:
    """A JSON object of the export, or an empty one when the field is missing or of another type."""
    return value if isinstance(value, dict) else {}


def _items(value: object) -> list[Any]:
    """A JSON array of the export, or an empty one when the field is missing or of another type."""
    return value if isinstance(value, list) else []


def _office(item: dict[str, object]) -> Office | None:
    raw_id = _text(item.get("id"))
    name = _text(item.get("displayName")) or _text(item.get("name"))
    if not raw_id or not name:
        return None
    address = _obj(item.get("address"))
    contact = _obj(item.get("contact"))
    street = clean_line(f"{_text(address.get('street'))} {_text(address.get('house_number'))}")
    city = clean_line(f"{_text(address.get('postal_code'))} {_text(address.get('city'))}")
    bookable: set[str] = set()
    for relation in _items(item.get("services")):
        if not isinstance(relation, dict):
            continue
        appointment = _obj(relation.get("appointment"))
        if appointment.get("allowed") and relation.get("public", True) is not False:
            bookable.add(_text(relation.get("service")))
    return Office(
        id=raw_id,
        name=name,
        unit=_text(item.get("organizationUnit")),
        street=street,
        city=city,
        phone=_text(contact.get("phone")),
        email=_text(contact.get("email")),
        public=item.get("public") is not False,
        bookable=frozenset(bookable),
    )


@dataclass
class Locations:
    """The offices of a locations file, and which services each one offers."""

    offices: dict[str, Office] = field(default_factory=dict)
    by_service: dict[str, list[str]] = field(default_factory=dict)
    problems: list[ImportFailure] = field(default_factory=list)


def _location_items(data: object) -> list[object] | None:
    items = data.get("data") if isinstance(data, dict) else data
    if isinstance(items, list) and any(looks_like_dldb_location(i) for i in items[:20]):
        return items
    return None


def load_locations(path: Path) -> Locations:
    """Read a DLDB locations file; broken entries are reported, the rest is kept."""
    shown = display_path(path)
    found = Locations()
    data, problem = read_json(path, shown, encoding="utf-8-sig")
    if problem:
        found.problems.extend(problem.failures)
        return found
    items = _location_items(data)
    if items is None:
        found.problems.append(ImportFailure(shown, "keine DLDB-Standorte (erwartet address und services)"))
        return found
    for position, item in enumerate(items):
        if not isinstance(item, dict) or (office := _office(item)) is None:
            found.problems.append(ImportFailure(f"{shown}[{position}]", "Standort ohne id oder Namen"))
            continue
        if office.id in found.offices:
            found.problems.append(ImportFailure(f"{shown}[{position}]", f"doppelte Standort-ID '{office.id}'"))
            continue
        found.offices[office.id] = office
        for relation in _items(item.get("services")):
            if isinstance(relation, dict) and _text(relation.get("service")):
                found.by_service.setdefault(_text(relation.get("service")), []).append(office.id)
    return found


def is_locations_file(path: Path) -> bool:
    """Whether a JSON file is a DLDB locations export (judged by its shape, not its name)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return False
    return _location_items(data) is not None


def sibling_locations(path: Path) -> list[Path]:
    """Locations files beside a services export: a city drops both files of its export in one folder."""
    return [p for p in sorted(path.parent.glob("*.json")) if p != path and is_locations_file(p)]


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


def _offices_of(item: dict[str, object], service_raw_id: str, locations: Locations) -> list[Office]:
    """The offices offering a service: those the service names and those naming it, in export order."""
    ids: list[str] = []
    for relation in _items(item.get("locations")):
        if isinstance(relation, dict) and _text(relation.get("location")):
            ids.append(_text(relation.get("location")))
    ids.extend(locations.by_service.get(service_raw_id, []))
    return [locations.offices[i] for i in dict.fromkeys(ids) if i in locations.offices]


def _service(item: object, *, where: str, file_uri: str, locations: Locations | None = None) -> ImportResult:
    if not isinstance(item, dict):
        return failure(where, "Eintrag ist kein Objekt (erwartet einen Dienst mit id und name)")
    raw_id = item.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not slugify(str(raw_id)):
        return failure(where, "Feld 'id' fehlt oder ist ungültig")
    raw = str(raw_id).strip()
    service_id = f"dldb-{slugify(raw, max_length=110)}"
    meta = _obj(item.get("meta"))
    meta_url = meta.get("url") or item.get("url")
    has_url = isinstance(meta_url, str) and bool(meta_url.strip())
    source_url = (
        fill_template(meta_url.strip(), raw) if isinstance(meta_url, str) and has_url else f"{file_uri}#{service_id}"
    )
    builder = _Builder(base_url=source_url if source_url.startswith("http") else "")
    name = _one_line(builder, item.get("name"))
    if len(name) < 2:
        return failure(where, f"Dienst {raw_id}: Feld 'name' fehlt")

    description = builder.text(item.get("description"))
    note = next((line for line in description if _INTERNAL_NOTE.search(line)), None)
    if note:
        reason = f"Dienst {raw_id} „{name}“: interner Hinweis, nicht für Bürger*innen („{note[:100]}“)"
        return ImportResult(skipped=[ImportFailure(where, reason)])
    builder.add(Section.UEBERBLICK, description)
    legal = _bullets(builder, _entries(builder, item.get("legal")))
    builder.add(Section.UEBERBLICK, ["Rechtsgrundlagen:", *legal] if legal else [])
    builder.add(Section.VORAUSSETZUNGEN, _bullets(builder, _entries(builder, item.get("prerequisites"))))
    builder.add(Section.UNTERLAGEN, _bullets(builder, _entries(builder, item.get("requirements"))))
    builder.add(Section.GEBUEHREN, builder.text(item.get("fees")))
    builder.add(Section.FRISTEN, builder.text(item.get("process_time")))
    if not builder.sections:
        # no description, fees, requirements …: a booking-system entry ("Shortlane 15 min"), not a service
        return ImportResult(skipped=[ImportFailure(where, f"Dienst {raw_id} „{name}“ ohne Text für Bürger*innen")])
    # `public: false` hides a service from the online booking (zmscitizenapi's MapperService), it does
    # not make it secret: Wohnsitz abmelden or Sterbeurkunde carry it. So: no online booking links.
    bookable_online = item.get("public") is not False
    offices = _offices_of(item, raw, locations) if locations else []
    builder.add(Section.ZUSTAENDIGE_STELLE, builder.text(item.get("responsibility")))
    if offices:
        builder.add(Section.ZUSTAENDIGE_STELLE, [office.line() for office in offices])
    else:  # without a locations file the authority is all we know
        builder.add(Section.ZUSTAENDIGE_STELLE, _bullets(builder, _entries(builder, item.get("authorities"))))
    builder.add(Section.ZUSTAENDIGE_STELLE, _location_lines(builder, item.get("locations")))
    builder.add(Section.ONLINE_DIENST, _online(builder, item.get("onlineprocessing"), name))
    builder.add(Section.ONLINE_DIENST, _online(builder, item.get("onlineservices"), name))
    appointment = item.get("appointment")
    appointment_link = appointment.get("link") if isinstance(appointment, dict) else None
    if bookable_online and isinstance(appointment_link, str) and appointment_link.strip():
        url = builder.link("Termin vereinbaren", fill_template(appointment_link, raw))
        builder.add(Section.ONLINE_DIENST, [f"Termin vereinbaren: {url}"] if url else [])
        base = booking_base(fill_template(appointment_link, raw))
        for office in offices:
            if office.public and raw in office.bookable and base.startswith("http"):
                # only where this service–office relation exists; exclusiveLocation shows just that office
                builder.link(
                    f"Termin: {office.name}", f"{base}?exclusiveLocation=1#/services/{raw}/locations/{office.id}"
                )
    builder.add(Section.FORMULARE, _bullets(builder, _entries(builder, item.get("forms")), show_links=True))
    for entry in _entries(builder, item.get("links")):
        if entry.link:
            builder.link(entry.name or entry.description, entry.link)

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


def load_dldb_file(path: Path, extra_locations: list[Path] | None = None) -> ImportResult:
    """Import every service of one DLDB export; each broken entry is reported with its index.

    Offices come from a DLDB locations file in the same folder (or `extra_locations`), so answers
    can name the office, its address and contact instead of "Stadtverwaltung München".
    """
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
    locations = Locations()
    for locations_path in [*sibling_locations(path), *(extra_locations or [])]:
        found = load_locations(locations_path)
        result.failures.extend(found.problems)
        locations.offices.update(found.offices)
        for service, ids in found.by_service.items():
            locations.by_service.setdefault(service, []).extend(ids)
    for index, item in enumerate(services):
        where = f"{shown}[{index}]"
        try:
            result.extend(_service(item, where=where, file_uri=file_uri, locations=locations))
        except HtmlTooDeepError as exc:
            result.extend(failure(where, str(exc)))
        except Exception as exc:  # one odd entry must not stop the others; the report names it
            result.extend(failure(where, f"Eintrag nicht verarbeitbar ({type(exc).__name__}: {str(exc)[:200]})"))
    return result
