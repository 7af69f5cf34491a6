"""HTML importer: main content only, German headings mapped onto sections, nothing silently lost."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from knowledge.importers.html import classify_heading, convert_html, load_html_file, parse_html_page, slugify
from knowledge.models import Section, Service
from tests.unit.knowledge.importers.samples import FIXTURES

PAGE = FIXTURES / "muenchen_reisepass.html"
CANONICAL = "https://stadt.muenchen.de/service/info/hauptabteilung-ii-buergerangelegenheiten/1063412/"


@pytest.fixture(scope="module")
def reisepass() -> Service:
    result = load_html_file(PAGE)
    assert result.failures == [] and result.skipped == []
    (service,) = result.services
    return service


def all_text(service: Service) -> str:
    return "\n".join([service.title, service.summary, *service.sections.values()])


def test_title_id_source_and_date_come_from_the_page(reisepass: Service):
    assert reisepass.title == "Reisepass beantragen"
    assert reisepass.id == "reisepass-beantragen"
    assert reisepass.source_url == CANONICAL
    assert reisepass.updated == date(2026, 10, 15)
    assert reisepass.language == "de"
    assert reisepass.origin.endswith("muenchen_reisepass.html")


def test_site_chrome_scripts_and_asides_are_dropped(reisepass: Service):
    text = all_text(reisepass)
    for noise in (
        "Cookies",
        "Startseite",
        "Service-Finder",
        "Suchen",
        "Zum Inhalt springen",
        "trackPage",
        "Impressum",
        "Das könnte Sie auch interessieren",
        "Seite teilen",
        "Logo",
    ):
        assert noise not in text


def test_headings_map_to_sections(reisepass: Service):
    s = reisepass.sections
    assert s[Section.VORAUSSETZUNGEN] == (
        "- Sie sind Deutsche oder Deutscher.\n- Sie sind in München mit Hauptwohnsitz gemeldet."
    )
    assert s[Section.UNTERLAGEN].splitlines() == [
        "- Ihr bisheriger Reisepass oder Personalausweis",
        "- Ein aktuelles biometrisches Passfoto",
        "- Format 35 x 45 mm, nicht älter als sechs Monate",
        "- Bei Kindern unter 18 Jahren: Zustimmung beider Sorgeberechtigten",
    ]
    assert "Die Herstellung dauert in der Regel drei bis vier Wochen." in s[Section.FRISTEN]
    assert s[Section.ABLAUF].splitlines()[0] == "- Buchen Sie online einen Termin im Bürgerbüro."
    # in these two sections the URL is what citizens need, so it is part of the quotable text
    assert s[Section.ONLINE_DIENST] == (
        "Termin im Bürgerbüro vereinbaren: https://stadt.muenchen.de/terminvereinbarung_/terminvereinbarung_bb.html"
    )
    assert s[Section.FORMULARE] == (
        "- Vollmacht zur Abholung (PDF): https://stadt.muenchen.de/dam/jcr:1234/Vollmacht_Abholung.pdf"
    )


def test_pure_label_headings_are_not_repeated_as_text(reisepass: Service):
    assert "Erforderliche Unterlagen" not in reisepass.sections[Section.UNTERLAGEN]
    assert "Voraussetzungen" not in reisepass.sections[Section.VORAUSSETZUNGEN]


def test_tables_and_unknown_subheadings_stay_in_their_section(reisepass: Service):
    fees = reisepass.sections[Section.GEBUEHREN].splitlines()
    assert fees == [
        "Antragstellende ab 24 Jahren: 70,00 Euro",
        "Antragstellende unter 24 Jahren: 37,50 Euro",
        "Expresspass",
        "Für einen Expresspass zahlen Sie zusätzlich 32,00 Euro.",
    ]
    office = reisepass.sections[Section.ZUSTAENDIGE_STELLE]
    assert "Ruppertstraße 19, 80337 München" in office.splitlines()
    assert "Montag: 7:30–12:00 Uhr" in office.splitlines()
    assert "Öffnungszeiten" not in office  # a pure label inside the same section


def test_intro_and_unknown_headings_go_to_overview_with_the_heading_kept(reisepass: Service):
    overview = reisepass.sections[Section.UEBERBLICK].splitlines()
    assert overview[0] == (
        "Einen Reisepass brauchen Sie für Reisen in viele Länder außerhalb der Europäischen Union. "
        "Sie beantragen ihn persönlich im Bürgerbüro."
    )
    assert "Hinweise für Reisen mit Kindern" in overview
    assert "Kinder brauchen für Reisen ins Ausland ein eigenes Dokument." in overview[-1]
    assert "Reisepass beantragen" not in overview  # the h1 is the title, not content
    assert reisepass.summary.startswith("Einen Reisepass brauchen Sie für Reisen")


def test_links_are_absolute_deduplicated_and_named(reisepass: Service):
    links = {link.url: link.title for link in reisepass.links}
    form = "https://stadt.muenchen.de/dam/jcr:1234/Vollmacht_Abholung.pdf"
    assert links[form] == "Vollmacht zur Abholung (PDF)"
    assert links["mailto:buergerbuero.kvr@muenchen.de"] == "buergerbuero.kvr@muenchen.de"
    # "hier" is named by its sentence, which is what a citizen needs to see in a link list
    here = links["https://www.auswaertiges-amt.de/de/ReiseUndSicherheit"]
    assert here.startswith("Informationen zu den Einreisebestimmungen")
    assert not any(url.startswith("tel:") for url in links)
    assert "https://stadt.muenchen.de/impressum/" not in links
    assert "https://www.facebook.com/sharer" not in links
    assert len(links) == len(reisepass.links)


def test_empty_page_returns_none_and_is_skipped_by_the_loader(tmp_path: Path):
    empty = (
        "<html><head><title>Leer</title></head><body><nav><a href='/'>Menü</a></nav>"
        "<script>x()</script><p>&nbsp;</p><img src='a.png' alt='Bild'></body></html>"
    )
    url = "https://example.org/leer"
    assert parse_html_page(empty, url=url, title=None, updated=None, service_id=None) is None
    file = tmp_path / "leer.html"
    file.write_text(empty, encoding="utf-8")
    result = load_html_file(file)
    assert result.services == [] and result.failures == []
    assert [s.reason for s in result.skipped] == ["leere Seite"]


def test_fragment_without_headings_goes_to_overview_and_id_is_slug_of_title():
    service = parse_html_page(
        "<p>Die Hundesteuer ist eine Gemeindesteuer.</p><ul><li>Erster Hund: 100 Euro</li></ul>",
        url="https://example.org/hund",
        title="Hundesteuer für Größere Hunde",
        updated=date(2025, 1, 2),
        service_id=None,
    )
    assert service is not None
    assert service.id == "hundesteuer-fuer-groessere-hunde"
    assert service.sections == {Section.UEBERBLICK: "Die Hundesteuer ist eine Gemeindesteuer.\n- Erster Hund: 100 Euro"}
    assert service.updated == date(2025, 1, 2)


def test_title_falls_back_to_title_tag_without_site_name():
    page = "<html><head><title>Ummeldung | Stadt Musterstadt</title></head><body><p>Text.</p></body></html>"
    service = parse_html_page(page, url="https://example.org/x", title=None, updated=None, service_id=None)
    assert service is not None and service.title == "Ummeldung"


def test_main_element_is_preferred_over_the_rest_of_the_body():
    page = (
        "<body><div class='teaser'>Werbung für Veranstaltungen</div><main><h1>Ummeldung</h1>"
        "<p>Sie müssen sich ummelden.</p></main></body>"
    )
    service = parse_html_page(page, url="https://example.org/x", title=None, updated=None, service_id=None)
    assert service is not None
    assert "Werbung" not in all_text(service)
    assert service.sections[Section.UEBERBLICK] == "Sie müssen sich ummelden."


def test_file_without_canonical_uses_file_uri_and_reads_latin1(tmp_path: Path):
    file = tmp_path / "gebuehren.html"
    file.write_bytes(
        "<html><head><meta charset='iso-8859-1'><title>Gebühren</title></head>"
        "<body><h2>Kosten</h2><p>Die Gebühr beträgt 5 Euro.</p></body></html>".encode("latin-1")
    )
    (service,) = load_html_file(file).services
    assert service.source_url == file.resolve().as_uri()
    assert service.title == "Gebühren"
    assert service.sections == {Section.GEBUEHREN: "Die Gebühr beträgt 5 Euro."}


def test_unreadable_file_is_a_failure_not_an_exception(tmp_path: Path):
    result = load_html_file(tmp_path / "fehlt.html")
    assert result.services == []
    assert "nicht lesbar" in result.failures[0].reason


@pytest.mark.parametrize(
    ("heading", "section"),
    [
        ("Voraussetzungen:", Section.VORAUSSETZUNGEN),
        ("Was brauche ich?", Section.UNTERLAGEN),
        ("Erforderliche Unterlagen", Section.UNTERLAGEN),
        ("Kosten", Section.GEBUEHREN),
        ("Gebühren", Section.GEBUEHREN),
        ("Bearbeitungszeit", Section.FRISTEN),
        ("Fristen", Section.FRISTEN),
        ("So funktioniert’s", Section.ABLAUF),
        ("Verfahrensablauf", Section.ABLAUF),
        ("Ansprechpartner", Section.ZUSTAENDIGE_STELLE),
        ("Öffnungszeiten", Section.ZUSTAENDIGE_STELLE),
        ("Adresse", Section.ZUSTAENDIGE_STELLE),
        ("Online-Dienst", Section.ONLINE_DIENST),
        ("Online beantragen", Section.ONLINE_DIENST),
        ("Formulare und Downloads", Section.FORMULARE),
        ("Kostenlose Deutschkurse", None),
        ("Schutzformen im Asylverfahren", None),
        ("Befristete Aufenthaltserlaubnis", None),
    ],
)
def test_heading_classification(heading: str, section: Section | None):
    assert classify_heading(heading) == section


def test_slugify_spells_out_umlauts():
    assert slugify("Gebühren für Größe & Übergänge") == "gebuehren-fuer-groesse-uebergaenge"
    assert slugify("Café  Straße!") == "cafe-strasse"
    assert slugify("مرحبا") == ""


def test_convert_html_keeps_bullets_and_links():
    markup = "<p>Bitte <a href='/f.pdf'>Formular</a> ausfüllen.</p><ul><li>A</li><li>B</li></ul>"
    converted = convert_html(markup, base_url="https://example.org/a/")
    assert converted.lines == ["Bitte Formular ausfüllen.", "- A", "- B"]
    assert [link.url for link in converted.links] == ["https://example.org/f.pdf"]
