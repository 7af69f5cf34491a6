"""Redaction on realistic German citizen messages: what must go, and what must stay."""

from __future__ import annotations

import pytest

from bot.conversation.privacy import redact

POSITIVES = [
    # (text, placeholder that must appear, substring that must be gone)
    ("Meine E-Mail ist anna.schmidt@web.de, bitte antworten Sie dorthin.", "[E-MAIL]", "anna.schmidt@web.de"),
    ("Schreiben Sie an max_muster+bb@gmx.net", "[E-MAIL]", "gmx.net"),
    ("Sie erreichen mich unter 0171-2345678.", "[TELEFON]", "2345678"),
    ("Rückruf bitte unter +49 89 23396000", "[TELEFON]", "23396000"),
    ("Tel.: 0049 (0)89 1234567", "[TELEFON]", "1234567"),
    ("Festnetz 089 123456, ab 17 Uhr", "[TELEFON]", "123456"),
    ("meine nummer ist 0152 / 987 654 32", "[TELEFON]", "987 654 32"),
    ("Bitte buchen Sie von DE89 3704 0044 0532 0130 00 ab", "[IBAN]", "0532 0130"),
    ("IBAN: DE89370400440532013000", "[IBAN]", "DE8937"),
    ("Überweisung kam von AT61 1904 3002 3457 3201", "[IBAN]", "3457 3201"),
    ("Meine Steuer-ID lautet 12 345 678 901", "[STEUER-ID]", "678 901"),
    ("Steueridentifikationsnummer: 86095742719", "[STEUER-ID]", "86095742719"),
    ("hier die id 86095742719 falls nötig", "[STEUER-ID]", "86095742719"),
    ("Meine Ausweisnummer ist L01X00T47, ist der noch gültig?", "[AUSWEISNUMMER]", "L01X00T47"),
    ("Passnummer: C01X00T47", "[AUSWEISNUMMER]", "C01X00T47"),
    ("personalausweis nr. l01x00t47 verloren", "[AUSWEISNUMMER]", "l01x00t47"),
    ("Der Ausweis T22000129 ist weg", "[AUSWEISNUMMER]", "T22000129"),
    ("Ich wohne am Marienplatz 8 im dritten Stock.", "[ADRESSE]", "Marienplatz 8"),
    ("Neue Adresse: Hauptstr. 12a, 80331 München", "[ADRESSE]", "80331"),
    ("Umzug in die Sankt-Martin-Straße 3-5 nächste Woche", "[ADRESSE]", "Martin-Straße 3"),
    ("wir sind in die Lange Straße 14 gezogen", "[ADRESSE]", "Lange Straße 14"),
    ("Ich bin nach 60311 Frankfurt am Main gezogen", "[ADRESSE]", "60311"),
    # lower case, abbreviated and hyphenated street names, as citizens type them
    ("ich wohne bahnhofstr. 5", "[ADRESSE]", "bahnhofstr"),
    ("Neue Anschrift: Bahnhof-Str. 5a", "[ADRESSE]", "Bahnhof-Str"),
    ("wir ziehen in die karl-marx-allee 12 um", "[ADRESSE]", "karl-marx-allee"),
    ("meine adresse ist am alten markt 3", "[ADRESSE]", "markt 3"),
    ("lieferung an hauptstr 7, 80331 münchen", "[ADRESSE]", "80331"),
    ("bitte an die schillerstrasse 12b schicken", "[ADRESSE]", "schillerstrasse"),
    ("ich wohne in der leopoldstraße seit mai", "[ADRESSE]", "leopoldstraße"),
    ("Umzug nach goethe-platz 4 – was muss ich tun?", "[ADRESSE]", "goethe-platz 4"),
    ("Ich wohne in der Leopoldstraße, zweiter Hinterhof", "[ADRESSE]", "Leopoldstraße"),
    ("geboren am 12.03.1985 in Augsburg", "[GEBURTSDATUM]", "12.03.1985"),
    ("Geburtsdatum: 3. Mai 1990", "[GEBURTSDATUM]", "3. Mai 1990"),
    ("Max Muster, geb. 01.02.63", "[GEBURTSDATUM]", "01.02.63"),
    ("Mein Sohn ist am 4.7.2025 geboren, was brauche ich?", "[GEBURTSDATUM]", "4.7.2025"),
    ("Ich heiße Anna Schmidt und brauche einen neuen Pass.", "[NAME]", "Schmidt"),
    ("ich heiße anna und wohne in Pasing", "[NAME]", "anna"),
    ("Mein Name ist Mehmet Yılmaz.", "[NAME]", "Mehmet"),
    ("Guten Tag, mein Name ist Müller, ich habe eine Frage", "[NAME]", "Müller"),
    ("Ich habe mit Frau Dr. Weber-Schulz telefoniert", "[NAME]", "Weber-Schulz"),
    ("Herr Nguyen hat mir gesagt, ich soll hier fragen", "[NAME]", "Nguyen"),
    ("Vielen Dank!\nMit freundlichen Grüßen\nKatharina von Berg", "[NAME]", "Katharina"),
    ("Danke, lg jonas", "[NAME]", "jonas"),
    ("Vorname: Lisa, Nachname: Brandt", "[NAME]", "Brandt"),
]

NEGATIVES = [
    "Was kostet ein Personalausweis? Ich habe gelesen 37 Euro.",
    "Die Gebühr beträgt 30 Euro, für unter 24-Jährige 22,80 Euro.",
    "Ich habe am 12.03.2026 um 10:30 Uhr einen Termin im Bürgerbüro.",
    "Kann ich den Termin am 3. Mai 2026 verschieben?",
    "Wie melde ich meinen Wohnsitz um? Service kfz-zulassung oder anmeldung-wohnsitz",
    "Öffnungszeiten Mo-Fr 08:00 - 12:00, Do 14:00 - 18:00",
    "Ich bin auf Platz 3 in der Warteschlange.",
    "Wo ist der nächste Wertstoffhof 2 Straßen weiter?",
    "Sehr geehrte Damen und Herren, ich brauche einen Bewohnerparkausweis.",
    "Meine Frau Mitglied im Verein braucht das auch?",
    "Mein Ausweis ist abgelaufen, was nun?",
    "Wir haben über 12000 Anträge und 10000 Euro Budget.",
    "Gilt das Formular auf Seite 3 für die Hundesteuer?",
    "Bitte Schritt 2 und Punkt 4 erklären.",
    "Viele Grüße und danke!",
    "Ich möchte mit Frau Bürgermeisterin sprechen.",
    "Brauche ich für die Geburtsurkunde einen Termin am 05.06.2026?",
    "Mein Kind ist 2 Jahre alt, bekomme ich einen Kita-Platz?",
    # street-shaped words in lower case that are no address
    "vom bahnhof ist es ein fußweg 10 minuten",
    "ich bin auf platz 3 der warteliste",
    "die zweite straße 2 mal links, dann sind sie da",
    "am bahnsteig 3 ist der aufzug kaputt",
    "gilt der antrag für stellplatz 4 in der tiefgarage?",
    "muss ich für den wochenmarkt 2 formulare ausfüllen?",
]


@pytest.mark.parametrize(("text", "placeholder", "gone"), POSITIVES)
def test_personal_data_is_redacted(text: str, placeholder: str, gone: str) -> None:
    redacted = redact(text)
    assert placeholder in redacted, redacted
    assert gone not in redacted, redacted


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_service_language_is_kept(text: str) -> None:
    assert redact(text) == text


def test_cue_words_stay_so_the_sentence_reads_naturally() -> None:
    assert redact("geboren am 12.03.1985") == "geboren am [GEBURTSDATUM]"
    assert redact("Ich heiße Anna Schmidt und brauche Hilfe") == "Ich heiße [NAME] und brauche Hilfe"
    assert redact("Neue Adresse: Hauptstr. 12a, 80331 München") == "Neue Adresse: [ADRESSE]"


def test_a_full_message_with_many_kinds_of_personal_data() -> None:
    text = (
        "Hallo, mein Name ist Jonas Becker, geboren am 02.11.1979. Ich wohne in der Lindwurmstraße 45, "
        "80337 München. Telefon 0176 12345678, E-Mail j.becker@posteo.de, Ausweisnummer L01X00T47, "
        "IBAN DE89 3704 0044 0532 0130 00. Was kostet die Ummeldung (laut Website 0 Euro)?"
    )
    redacted = redact(text)
    for gone in ("Jonas", "Becker", "1979", "Lindwurm", "80337", "12345678", "posteo", "L01X00T47", "DE89"):
        assert gone not in redacted, redacted
    for placeholder in ("[NAME]", "[GEBURTSDATUM]", "[ADRESSE]", "[TELEFON]", "[E-MAIL]", "[AUSWEISNUMMER]", "[IBAN]"):
        assert placeholder in redacted
    assert "Was kostet die Ummeldung (laut Website 0 Euro)?" in redacted


def test_redaction_is_idempotent() -> None:
    text = "Ich heiße Anna Schmidt, Tel. 089 123456, Marienplatz 8, 80331 München"
    once = redact(text)
    assert redact(once) == once


def test_empty_text() -> None:
    assert redact("") == ""


def test_official_contact_data_from_the_content_is_kept() -> None:
    # bot answers quote office addresses and hotlines; those are not personal data
    answer = "Zuständig ist das Bürgerbüro, Ruppertstraße 19, 80337 München. Wahlhotline: 089 233-96233"
    from bot.conversation.privacy import _content_public_values

    public = _content_public_values()
    kept = redact(answer)
    assert ("Ruppertstraße 19" in kept) == any("Ruppertstraße 19" in v for v in public)
    assert redact(answer, public=frozenset()) != answer


def test_private_address_is_redacted_even_with_public_values_loaded() -> None:
    assert "[ADRESSE]" in redact("Ich wohne in der Lindwurmstraße 45")


def test_office_address_from_the_content_is_kept_however_it_is_spelled() -> None:
    from bot.conversation.privacy import public_values

    public = public_values(["Kreisverwaltungsreferat, Ruppertstraße 19, 80337 München. Telefon 089 233-96000"])
    for question in (
        "Ist das Bürgerbüro in der Ruppertstraße 19?",
        "ist das bürgerbüro in der ruppertstr. 19?",
        "muss ich zur ruppertstrasse 19, 80337 münchen?",
        "Ruppert-Str. 19 oder woanders?",
    ):
        assert redact(question, public=public) == question
    assert "[ADRESSE]" in redact("ich wohne in der ruppertstr. 21", public=public)  # the neighbour is private


def test_office_addresses_of_the_shipped_json_content_are_public() -> None:
    # the Munich export keeps street and number in separate fields; answers quote them joined
    from bot.conversation.privacy import _content_public_values

    public = _content_public_values()
    assert "Ruppertstraße 19" in public and "Implerstraße 11, 81371 München" in public
    assert (
        redact("Kommen Sie in die Implerstraße 11, 81371 München.")
        == "Kommen Sie in die Implerstraße 11, 81371 München."
    )
