"""PDF importer: text and title from real PDFs; broken, encrypted or text-less files become failures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from knowledge.importers.pdf import load_pdf_file
from knowledge.models import Section
from tests.unit.knowledge.importers.samples import blank_pdf, encrypt_pdf, make_pdf

FORM_PAGES = [
    [
        "Antrag auf einen Bewohnerparkausweis",
        "Bitte füllen Sie das Formular vollständig aus und legen Sie den",
        "Fahrzeugschein bei.",
        "• Name und Anschrift: ____________________",
        "• Amtliches Kennzeichen: ____________",
    ],
    ["Gebühren: 30,00 Euro für ein Jahr.", "Die Bearbeitung dauert etwa zwei Wochen."],
]


@pytest.fixture
def form_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "Antrag_Bewohnerparkausweis.pdf"
    path.write_bytes(
        make_pdf(
            FORM_PAGES,
            title="Antrag Bewohnerparkausweis (Stand 2026)",
            link="https://stadt.muenchen.de/service/online-bewohnerparken",
        )
    )
    return path


def only_failure(path: Path) -> str:
    result = load_pdf_file(path)
    assert result.services == []
    (failure,) = result.failures
    assert failure.path.endswith(path.name)
    return failure.reason


def test_valid_pdf_becomes_a_forms_service(form_pdf: Path):
    result = load_pdf_file(form_pdf)
    assert result.failures == [] and result.skipped == []
    (service,) = result.services
    assert service.id == "antrag-bewohnerparkausweis"
    assert service.title == "Antrag Bewohnerparkausweis (Stand 2026)"
    assert service.source_url == form_pdf.resolve().as_uri()
    assert service.origin.endswith("Antrag_Bewohnerparkausweis.pdf")
    forms = service.sections[Section.FORMULARE].splitlines()
    assert forms[0] == "Antrag auf einen Bewohnerparkausweis"
    # layout line breaks inside a sentence are joined, bullets unified, form blanks removed
    assert "Bitte füllen Sie das Formular vollständig aus und legen Sie den Fahrzeugschein bei." in forms
    assert "- Name und Anschrift:" in forms
    assert "Gebühren: 30,00 Euro für ein Jahr." in forms  # text of all pages
    assert service.sections[Section.UEBERBLICK] == service.summary
    assert service.summary == "Bitte füllen Sie das Formular vollständig aus und legen Sie den Fahrzeugschein bei."
    assert [link.url for link in service.links] == ["https://stadt.muenchen.de/service/online-bewohnerparken"]


def test_title_falls_back_to_first_line_then_file_name(tmp_path: Path):
    path = tmp_path / "merkblatt-hundesteuer.pdf"
    path.write_bytes(make_pdf([["Merkblatt zur Hundesteuer", "Die Steuer wird jährlich erhoben."]]))
    assert load_pdf_file(path).services[0].title == "Merkblatt zur Hundesteuer"

    path.write_bytes(make_pdf([["Merkblatt zur Hundesteuer", "Text."]], title="Microsoft Word - merkblatt.docx"))
    assert load_pdf_file(path).services[0].title == "Merkblatt zur Hundesteuer"

    path.write_bytes(make_pdf([["?", "x"]]))
    assert load_pdf_file(path).services[0].title == "merkblatt hundesteuer"


def test_sidecar_gives_public_url_and_metadata(form_pdf: Path):
    sidecar = form_pdf.with_name(form_pdf.name + ".meta.yaml")
    sidecar.write_text(
        "source_url: https://stadt.muenchen.de/dam/antrag-bewohnerparken.pdf\n"
        "updated: 2026-10-01\nkeywords: [Anwohnerparken, Parkausweis]\n",
        encoding="utf-8",
    )
    (service,) = load_pdf_file(form_pdf).services
    assert service.source_url == "https://stadt.muenchen.de/dam/antrag-bewohnerparken.pdf"
    assert service.updated == date(2026, 10, 1)
    assert service.keywords == ["Anwohnerparken", "Parkausweis"]


def test_sidecar_with_unknown_field_is_reported(form_pdf: Path, tmp_path: Path):
    sidecar = tmp_path / "quelle.yaml"
    sidecar.write_text("source-url: https://example.org/a.pdf\n", encoding="utf-8")
    result = load_pdf_file(form_pdf, sidecar=sidecar)
    assert result.services == []
    assert "unbekanntes Feld 'source-url'" in result.failures[0].reason


def test_truncated_pdf_is_a_failure(tmp_path: Path):
    data = make_pdf(FORM_PAGES)
    path = tmp_path / "abgeschnitten.pdf"
    path.write_bytes(data[: len(data) * 2 // 3])
    assert "unvollständig" in only_failure(path)


def test_garbage_and_empty_files_are_failures(tmp_path: Path):
    garbage = tmp_path / "kaputt.pdf"
    garbage.write_bytes(b"<html>Das ist eine Fehlerseite, kein PDF</html>")
    assert "keine PDF-Datei" in only_failure(garbage)

    empty = tmp_path / "leer.pdf"
    empty.write_bytes(b"")
    assert only_failure(empty) == "leere Datei"


def test_damaged_structure_is_a_failure_not_a_crash(tmp_path: Path):
    path = tmp_path / "beschaedigt.pdf"
    path.write_bytes(
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\n"
        b"trailer\n<< /Root 1 0 R >>\nstartxref\n999999\n%%EOF\n"
    )
    assert only_failure(path).startswith("PDF ist beschädigt")


@pytest.mark.parametrize("algorithm", ["AES-256", "RC4-128"])
def test_password_protected_pdf_is_a_failure(tmp_path: Path, algorithm: str):
    path = tmp_path / "geschuetzt.pdf"
    path.write_bytes(encrypt_pdf(make_pdf(FORM_PAGES), user_password="geheim", algorithm=algorithm))
    assert "passwortgeschützt" in only_failure(path)


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path):
    # Many official forms are "encrypted" only to restrict editing; they open without a password.
    path = tmp_path / "nur-druckschutz.pdf"
    path.write_bytes(encrypt_pdf(make_pdf(FORM_PAGES), user_password=""))
    (service,) = load_pdf_file(path).services
    assert "Bewohnerparkausweis" in service.sections[Section.FORMULARE]


def test_pdf_without_text_is_a_failure(tmp_path: Path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(blank_pdf())
    assert "keinen lesbaren Text" in only_failure(path)


def test_missing_file_is_a_failure(tmp_path: Path):
    assert "nicht lesbar" in only_failure(tmp_path / "fehlt.pdf")
