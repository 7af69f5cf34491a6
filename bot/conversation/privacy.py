"""Redaction of personal data in German citizen texts before anything is stored durably.

Why rules and not a model: transcripts must be redacted synchronously on every message, offline,
with predictable behaviour that a data-protection officer can read and test. The rules favour
recall on clear personal data (e-mail, IBAN, phone, tax id, ID-card numbers, addresses, dates of
birth, names after cues) and stay conservative where ordinary service language looks similar:
fees ("30 Euro"), appointment dates without a birth cue, service ids and office hours are kept,
because the content-gap report and the editors need them.

Each rule replaces only the personal value and keeps the cue ("geboren am [GEBURTSDATUM]"), so a
redacted question still reads naturally and still groups with similar questions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from wording import texts

NAME = texts.REDACTED_NAME
EMAIL = texts.REDACTED_EMAIL
PHONE = texts.REDACTED_PHONE
IBAN = texts.REDACTED_IBAN
TAX_ID = texts.REDACTED_TAX_ID
ID_CARD = texts.REDACTED_ID_CARD
ADDRESS = texts.REDACTED_ADDRESS
BIRTH_DATE = texts.REDACTED_BIRTH_DATE

PLACEHOLDERS = (NAME, EMAIL, PHONE, IBAN, TAX_ID, ID_CARD, ADDRESS, BIRTH_DATE)

_UPPER = "A-ZÄÖÜ"
_LOWER = "a-zäöüß"
_LETTER = f"{_UPPER}{_LOWER}"

# --- e-mail -------------------------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}\b")

# --- IBAN: country, check digits, 11-30 alphanumerics, optionally in groups of four ---------------
_IBAN = re.compile(r"\b(?P<pii>[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,3})?)\b")


def _iban_valid(candidate: str) -> bool:
    """Mod-97 checksum, or the German length (22) so a mistyped German IBAN is still redacted."""
    compact = candidate.replace(" ", "").upper()
    if not (15 <= len(compact) <= 34) or not compact[2:4].isdigit():
        return False
    if compact.startswith("DE") and len(compact) == 22 and compact[2:].isdigit():
        return True
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in rearranged)
    return int(digits) % 97 == 1


# --- ID card / passport numbers ----------------------------------------------------------------
# German documents use digits and the letters C F G H J K L M N P R T V W X Y Z (no vowels, no
# B D Q S that could be misread); 9 characters, optionally followed by the check digit.
_DOC_CHARS = "0-9CFGHJKLMNPRTVWXYZ"
_ID_CUE = (
    r"(?:Personal)?ausweis(?:-?nummer|-?nr\.?)?|(?:Reise)?pass(?:-?nummer|-?nr\.?)|Dokumenten-?nummer"
    r"|Ausweis-?Nr\.?|Seriennummer|Kartennummer"
)
_ID_WITH_CUE = re.compile(
    rf"(?i:\b(?:{_ID_CUE}))(?:\s*(?::|ist|lautet|lautete|war|hat die nummer|nummer|nr\.?)\s*){{0,3}}\s*"
    rf"(?P<pii>(?=\w{{0,9}}\d)[{_DOC_CHARS}{_DOC_CHARS.lower()}]{{9}}\d?)\b"
)
# Without a cue only an uppercase mix of letters and digits in the document alphabet counts.
_ID_BARE = re.compile(rf"\b(?=[{_DOC_CHARS}]*\d[{_DOC_CHARS}]*\d)(?=[{_DOC_CHARS}]*[C-Z])[{_DOC_CHARS}]{{9}}\d?\b")

# --- tax identification number (Steuer-ID, 11 digits, never starting with 0) ------------------
_TAX_CUE = r"Steuer-?\s?(?:ID|Identifikationsnummer|-?Nr\.?|nummer)|Steueridentifikationsnummer|IdNr\.?|TIN"
_TAX_WITH_CUE = re.compile(
    rf"(?i:\b(?:{_TAX_CUE}))(?:\s*(?::|ist|lautet|war)\s*){{0,2}}\s*"
    r"(?P<pii>\d{2}[ ]?\d{3}[ ]?\d{3}[ ]?\d{3}|\d{2,3}/\d{3,4}/\d{4,5})\b"
)
_TAX_BARE = re.compile(r"(?<![\d.,/+-])[1-9]\d{10}(?![\d.,/])")

# --- dates of birth ----------------------------------------------------------------------------
_MONTHS = (
    "Januar|Jan\\.?|Februar|Feb\\.?|März|Maerz|Mär\\.?|April|Apr\\.?|Mai|Juni|Jun\\.?|Juli|Jul\\.?"
    "|August|Aug\\.?|September|Sept?\\.?|Oktober|Okt\\.?|November|Nov\\.?|Dezember|Dez\\.?"
)
_DATE = (
    rf"(?:\d{{1,2}}\.\s?\d{{1,2}}\.\s?(?:\d{{4}}|\d{{2}})(?!\d)"
    rf"|\d{{1,2}}\.?\s(?:{_MONTHS})\s\d{{4}}"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}/\d{{1,2}}/\d{{2,4}})"
)
_BIRTH_CUE = r"geboren|geb\.|Geburtsdatum|Geburtstag|Geb\.-?Datum|Geburtstdatum|\*"
_BIRTH_BEFORE = re.compile(
    rf"(?i:(?:{_BIRTH_CUE}))(?:\s*(?::|ist|war|lautet|am|den|der|im Jahr)\s*){{0,3}}\s*(?P<pii>{_DATE})"
)
_BIRTH_AFTER = re.compile(rf"(?i:\bam\s+)(?P<pii>{_DATE})(?=\s+(?:in\s+\S+\s+)?geboren\b)")

# --- addresses ---------------------------------------------------------------------------------
_STREET_SUFFIX = (
    r"straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|steig|pfad|chaussee|markt|"
    r"anger|graben|leite|wall|kai|zeile|bogen|promenade"
)
_STREET_WORD = r"Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse|Ring|Damm|Ufer|Chaussee|Markt|Promenade"
# A number after a street-shaped word followed by a unit is a distance or an amount, not a house number
# ("Fußweg 10 Minuten", "Bahnsteig 3 Meter weiter").
_UNIT_AFTER = (
    r"(?!\s*(?i:mal|min\.?|minuten|std\.?|stunden|sekunden|tage?n?|wochen?|monate?n?|jahren?|euro|eur|€|"
    r"km|m|meter|kilometer|uhr|prozent|%|personen|leute|häuser|stockwerke)\b)"
)
_HOUSE_NO = rf"\d{{1,4}}(?:\s?[a-hA-H](?![\w]))?(?:\s?[-/]\s?\d{{1,4}}[a-hA-H]?)?{_UNIT_AFTER}"
_POSTCODE_CITY = (
    rf"(?:0[1-9]|[1-9]\d)\d{{3}}\s+[{_UPPER}][{_LETTER}-]+"
    rf"(?:\s(?:am|an der|im|in der|ob der)\s[{_UPPER}][{_LETTER}-]+)?"  # Frankfurt am Main
)
# Citizens type street names as they please: "bahnhofstr. 5", "Bahnhof-Str. 5a", "karl-marx-allee 12",
# "hauptstr 7", "am alten markt 3". A one-word street therefore ignores case; "str" needs no dot when a
# number follows. Two-word streets in lower case need an adjective-like first word ("alten", "lange"),
# and the words that make "auf platz 3" a rank are excluded in `_accept_address`.
_STREET = (
    rf"(?:[{_LETTER}][{_LETTER}-]*(?i:{_STREET_SUFFIX}|str(?=\s?\d))"  # Marienplatz, hauptstr. 5, Karl-Marx-Allee
    rf"|[{_UPPER}][{_LETTER}-]+\s(?:{_STREET_WORD})"  # Lange Straße, Alter Markt
    rf"|[{_LETTER}][{_LOWER}-]+(?:e|en|er|es)\s(?i:{_STREET_WORD}))"  # lange straße, am alten markt
)
_POSTCODE_ANY_CITY = (  # after a street and house number, a lower-case city is a city too ("80331 münchen")
    rf"(?:0[1-9]|[1-9]\d)\d{{3}}\s+[{_LETTER}][{_LETTER}-]+"
    rf"(?:\s(?:am|an der|im|in der|ob der)\s[{_LETTER}][{_LETTER}-]+)?"
)
_ADDRESS = re.compile(rf"(?<![\w-])(?P<street>{_STREET})\s?(?P<no>{_HOUSE_NO})\b(?:,?\s+{_POSTCODE_ANY_CITY})?")
_POSTCODE = re.compile(rf"\b{_POSTCODE_CITY}")
_LIVES_IN = re.compile(
    rf"(?i:\b(?:wohne|wohnen|wohnhaft|Anschrift|Adresse|Wohnort)\b)(?:\s*(?::|ist|lautet|jetzt|seit kurzem))?"
    rf"\s+(?i:in der |in |im |am |an der |auf der )?(?P<pii>[{_LETTER}][{_LETTER}-]*(?i:{_STREET_SUFFIX}))(?!\w)"
)
# Words that follow numbers like postcodes do, but are amounts, counts or units.
_NOT_A_CITY = {
    "euro",
    "eur",
    "einwohner",
    "einwohnerinnen",
    "menschen",
    "personen",
    "bürger",
    "bürgerinnen",
    "anträge",
    "antraege",
    "fälle",
    "faelle",
    "stück",
    "mal",
    "meter",
    "kilometer",
    "minuten",
    "stunden",
    "tage",
    "jahre",
    "exemplare",
    "seiten",
    "besucher",
    "besucherinnen",
    "anfragen",
    "termine",
    "haushalte",
    "hunde",
    "fahrzeuge",
    "kinder",
    "plätze",
    "euro.",
    "dollar",
}
# Street-shaped words that are ordinary service vocabulary.
_NOT_A_STREET = {
    "platz",
    "parkplatz",
    "stellplatz",
    "arbeitsplatz",
    "kitaplatz",
    "kita-platz",
    "krippenplatz",
    "wartebereich",
    "weg",
    "rückweg",
    "hinweg",
    "umweg",
    "markt",
    "wochenmarkt",
    "flohmarkt",
    "ring",
    "hof",
    "friedhof",
    "bahnhof",
    "innenhof",
    "wertstoffhof",
    "feld",
    "park",
    "tor",
    "wertstoffhof.",
    "bogen",
    "antragsbogen",
    "fragebogen",
    "graben",
    "berg",
    "wall",
    "zeile",
}
# Compounds that end like a street but are places or things ("Stellplatz 3", "bahnsteig 4").
_NOT_A_STREET_ENDINGS = (
    "schwanger",
    "langer",
    "länger",
    "fänger",
    "gering",
    "ehering",
    "läufer",
    "rufer",
    "parkplatz",
    "stellplatz",
    "sitzplatz",
    "spielplatz",
    "arbeitsplatz",
    "studienplatz",
    "ausbildungsplatz",
    "kitaplatz",
    "krippenplatz",
    "bahnsteig",
    "supermarkt",
    "wochenmarkt",
    "flohmarkt",
    "weihnachtsmarkt",
    "arbeitsmarkt",
    "wohnungsmarkt",
    "fragebogen",
    "antragsbogen",
    "verkäufer",
    "käufer",
)
_NOT_A_STREET_OWNER = {
    "ihr",
    "ihre",
    "ihren",
    "mein",
    "meine",
    "meinen",
    "unser",
    "unsere",
    "unseren",
    "seine",
    "seinen",
    "keine",
    "keinen",
    "jede",
    "jeden",
    "jeder",
    "welche",
    "welchen",
    "andere",
    "anderen",
    "gleiche",
    "gleichen",
    "selbe",
    "selben",
    "ganze",
    "ganzen",
    "auf",
    "dieser",
    "diese",
    "diesen",
    "nächste",
    "nächsten",
    "nächster",
    "erste",
    "ersten",
    "zweite",
    "zweiten",
    "dritte",
    "dritten",
    "vierte",
    "vierten",
    "letzte",
    "letzten",
    "eine",
    "einen",
    "eines",
    "alle",
    "alles",
    "freie",
    "freien",
    "neue",
    "neuen",
}
_ORDINAL_CONTEXT = re.compile(r"(?i)\b(?:seite|nummer|nr\.?|schritt|punkt|abschnitt|stock|etage|zimmer|raum)\s*$")

# --- phone numbers -----------------------------------------------------------------------------
_PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)\d{2}[\s/-]?(?:\(0\)\s?)?\d[\d\s/()-]{4,18}\d(?!\d|[.,]\d)"  # +49 89 ..., 0049 ...
    r"|(?<![\w.,])\(?0\d{1,5}\)?[\s/-]{0,3}\d[\d\s/-]{3,14}\d(?!\d|[.,]\d)"  # 089 123456, 0171-1234567
)
_PHONE_CUE = re.compile(
    r"(?i:\b(?:Tel\.?|Telefon(?:nummer)?|Handy(?:nummer)?|Mobil(?:nummer)?|Rückrufnummer|Festnetz|erreichbar unter)"
    r")\s*:?\s*(?P<pii>\d[\d\s/-]{4,16}\d)(?!\d|[.,]\d)"
)

# --- names -------------------------------------------------------------------------------------
_NAME_WORD = rf"[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)?"
_ANY_WORD = rf"[{_LETTER}]+(?:-[{_LETTER}]+)?"
_PARTICLE = r"(?:von|van|de|zu|von der|van der|vom|zum)"
_NAME_CUE = re.compile(
    r"(?i:\b(?:ich\s+hei(?:ß|ss)e|mein\s+name\s+ist|mein\s+name\s+lautet|mein\s+name:|"
    r"ich\s+bin\s+(?:der|die)|hier\s+(?:spricht|schreibt)|(?:vor|nach|familien|ruf|geburts)?name\s*:|"
    r"im\s+auftrag\s+von|i\.\s?a\.|vertreten\s+durch|antragsteller(?:in)?\s*:))"
    rf"\s*(?P<pii>{_ANY_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_ANY_WORD}){{0,2}})"
)
_GREETING = re.compile(
    r"(?i:\b(?:mit\s+freundlichen\s+grü(?:ß|ss)en|freundliche\s+grü(?:ß|ss)e|viele\s+grü(?:ß|ss)e|"
    r"beste\s+grü(?:ß|ss)e|liebe\s+grü(?:ß|ss)e|herzliche\s+grü(?:ß|ss)e|schöne\s+grü(?:ß|ss)e|"
    r"gruß|grüße|mfg|lg|vg|vielen\s+dank\s+und\s+grü(?:ß|ss)e)\b)"
    rf"[\s,!.:-]*(?P<pii>{_ANY_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_ANY_WORD}){{0,2}})"
)
_TITLE = r"(?:(?:Dr|Prof|Dipl\.-Ing|Ing|Mag)\.\s?)*"
_SALUTATION = re.compile(
    rf"\b(?P<cue>Herrn?|Frau)\s+(?P<pii>{_TITLE}(?:{_PARTICLE}\s+)?{_NAME_WORD}(?:\s+{_NAME_WORD})?)"
)
# Words that end a name: function words, verbs and fillers citizens write right after their name.
_NAME_STOP = {
    "und",
    "oder",
    "aber",
    "ich",
    "bin",
    "habe",
    "hab",
    "möchte",
    "moechte",
    "will",
    "wollte",
    "brauche",
    "wohne",
    "komme",
    "aus",
    "in",
    "im",
    "am",
    "an",
    "bei",
    "mit",
    "für",
    "fuer",
    "von",
    "zu",
    "zum",
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
    "wie",
    "wo",
    "was",
    "wann",
    "warum",
    "weil",
    "dass",
    "da",
    "hier",
    "hallo",
    "guten",
    "tag",
    "bitte",
    "danke",
    "vielen",
    "dank",
    "frage",
    "kurze",
    "wegen",
    "zur",
    "ist",
    "sind",
    "war",
    "hat",
    "kann",
    "können",
    "koennen",
    "soll",
    "muss",
    "mein",
    "meine",
    "meinen",
    "sie",
    "er",
    "es",
    "wir",
    "ihr",
    "uns",
    "mir",
    "mich",
    "auch",
    "noch",
    "schon",
    "jetzt",
    "gerade",
    "nicht",
    "kein",
    "keine",
    "so",
    "sehr",
    "gern",
    "gerne",
    "euch",
    "ihnen",
    "termin",
    "frau",
    "herr",
    "herrn",
    "also",
    "nur",
    "leider",
    "heute",
    "morgen",
    "damen",
    "herren",
    "team",
    "ihre",
    "alle",
    "allen",
    "zusammen",
    "erstmal",
    "tschüss",
    "bis",
    "bald",
    "dann",
    "nochmal",
    "sofort",
    "willkommen",
    "eigentlich",
    "benötige",
    "benoetige",
}
# Nouns that follow "Herr"/"Frau" without being names (office titles, roles).
_NOT_A_NAME = {
    "bürgermeister",
    "bürgermeisterin",
    "oberbürgermeister",
    "oberbürgermeisterin",
    "doktor",
    "professor",
    "professorin",
    "kollege",
    "kollegin",
    "nachbar",
    "nachbarin",
    "pfarrer",
    "pfarrerin",
    "standesbeamtin",
    "standesbeamter",
    "sachbearbeiter",
    "sachbearbeiterin",
    "vorsitzende",
    "vorsitzender",
    "präsident",
    "präsidentin",
    "minister",
    "ministerin",
    "richter",
    "richterin",
    "rechtsanwalt",
    "rechtsanwältin",
    "anwalt",
    "anwältin",
    "mitglied",
    "angehörige",
    "gemahlin",
}
_POSSESSIVE_BEFORE = re.compile(
    r"(?i)\b(?:meine|meiner|seine|seiner|ihre|ihrer|unsere|unserer|eine|einer|die|der|jede)\s+$"
)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    placeholder: str
    accept: Callable[[re.Match[str], str], bool] | None = None


def _public_key(value: str) -> str:
    """How a public value is compared: "ruppertstr. 19" is the office at "Ruppertstraße 19"."""
    return re.sub(r"[\W_]+", "", value.casefold().replace("straße", "str").replace("strasse", "str"))


def _replace(text: str, rule: _Rule, public_keys: frozenset[str] = frozenset()) -> str:
    """Replace the `pii` group (or the whole match) of every accepted match with the placeholder."""
    out: list[str] = []
    last = 0
    for match in rule.pattern.finditer(text):
        if rule.accept is not None and not rule.accept(match, text):
            continue
        group = "pii" if "pii" in rule.pattern.groupindex and match.group("pii") is not None else 0
        start, end = match.span(group)
        if start < last or (public_keys and _public_key(text[start:end]) in public_keys):
            continue
        out.append(text[last:start])
        out.append(rule.placeholder)
        last = end
    out.append(text[last:])
    return "".join(out)


def _trim_name(value: str) -> str:
    """Cut a captured name at the first stop word, so "Anna und ich" keeps only "Anna"."""
    kept: list[str] = []
    for word in value.split():
        if word.lower().strip(".,") in _NAME_STOP:
            break
        kept.append(word)
    return " ".join(kept)


def _accept_iban(match: re.Match[str], _text: str) -> bool:
    return _iban_valid(match.group("pii"))


def _accept_bare_id(match: re.Match[str], _text: str) -> bool:
    # a bare 9-10 character code needs letters and digits mixed, as document numbers have
    token = match.group(0)
    return sum(c.isalpha() for c in token) >= 1 and sum(c.isdigit() for c in token) >= 3


def _accept_address(match: re.Match[str], text: str) -> bool:
    street = match.group("street")
    words = street.split()
    if street.lower() in _NOT_A_STREET or any(street.lower().endswith(word) for word in _NOT_A_STREET_ENDINGS):
        return False
    if len(words) == 2 and (words[0].lower() in _NAME_STOP or words[0].lower() in _NOT_A_STREET_OWNER):
        return False  # "Ihr Platz 3", "Auf Platz 3": a rank, not a street
    return not _ORDINAL_CONTEXT.search(text[: match.start()])


def _accept_lives_in(match: re.Match[str], _text: str) -> bool:
    street = match.group("pii").lower()
    return street not in _NOT_A_STREET and not any(street.endswith(word) for word in _NOT_A_STREET_ENDINGS)


def _accept_postcode(match: re.Match[str], text: str) -> bool:
    city = match.group(0).split()[1].lower()
    if city in _NOT_A_CITY or city.rstrip(".,") in _NOT_A_CITY:
        return False
    before = text[: match.start()].rstrip()
    # amounts like "10.000" or "1 200" are not postcodes
    return not (before.endswith((".", ",")) and before[-2:-1].isdigit())


def _accept_phone(match: re.Match[str], _text: str) -> bool:
    digits = sum(c.isdigit() for c in match.group(0))
    return 6 <= digits <= 16


def _redact_names(text: str, pattern: re.Pattern[str]) -> str:
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        name = _trim_name(match.group("pii"))
        if not name or name.lower() in _NOT_A_NAME or name.startswith("["):
            continue
        start = match.start("pii")
        end = start + len(name)
        if start < last:
            continue
        out.append(text[last:start])
        out.append(NAME)
        last = end
    out.append(text[last:])
    return "".join(out)


def _redact_salutations(text: str) -> str:
    out: list[str] = []
    last = 0
    for match in _SALUTATION.finditer(text):
        name = match.group("pii")
        first = re.sub(_TITLE, "", name).split()[0] if re.sub(_TITLE, "", name).split() else ""
        if first.lower() in _NOT_A_NAME or first.lower() in _NAME_STOP:
            continue
        if match.group("cue") == "Frau" and _POSSESSIVE_BEFORE.search(text[: match.start()]):
            continue  # "meine Frau Mitglied ..." speaks of a wife, not a Ms.
        # keep a second capitalised word only if it is not a noun starting the next clause
        words = name.split()
        if len(words) > 1 and words[-1].lower() in _NAME_STOP | _NOT_A_NAME:
            name = " ".join(words[:-1])
        start = match.start("pii")
        end = start + len(name)
        if start < last:
            continue
        out.append(text[last:start])
        out.append(NAME)
        last = end
    out.append(text[last:])
    return "".join(out)


_RULES_BEFORE_NAMES: tuple[_Rule, ...] = (
    _Rule(_EMAIL, EMAIL),
    _Rule(_IBAN, IBAN, _accept_iban),
    _Rule(_ID_WITH_CUE, ID_CARD),
    _Rule(_TAX_WITH_CUE, TAX_ID),
    _Rule(_BIRTH_BEFORE, BIRTH_DATE),
    _Rule(_BIRTH_AFTER, BIRTH_DATE),
    _Rule(_ADDRESS, ADDRESS, _accept_address),
    _Rule(_LIVES_IN, ADDRESS, _accept_lives_in),
    _Rule(_POSTCODE, ADDRESS, _accept_postcode),
    _Rule(_PHONE_CUE, PHONE),
    _Rule(_PHONE, PHONE, _accept_phone),
    _Rule(_TAX_BARE, TAX_ID),
    _Rule(_ID_BARE, ID_CARD, _accept_bare_id),
)


CONTENT_DIR = Path(__file__).resolve().parents[2] / "knowledge" / "content"


def public_values(texts: Iterable[str]) -> frozenset[str]:
    """Values in official texts that look like personal data but are the administration's own
    (office addresses, hotlines, functional mailboxes); bot answers quote them and they must stay.

    An office address is also kept without its postcode and city, because a citizen who asks about
    "Ruppertstraße 19" names the office, not a private home.
    """
    found: set[str] = set()
    for text in texts:
        for rule in _RULES_BEFORE_NAMES:
            for match in rule.pattern.finditer(text):
                if rule.accept is None or rule.accept(match, text):
                    group = "pii" if "pii" in rule.pattern.groupindex and match.group("pii") is not None else 0
                    found.add(match.group(group))
                    if rule.pattern is _ADDRESS:
                        found.add(f"{match.group('street')} {match.group('no')}")
    return frozenset(found)


def _json_texts(node: object) -> Iterator[str]:
    """Every string of a JSON export, plus structured addresses written out ("Implerstraße 11, 81371 München").

    Exports such as the DLDB keep an office's street, number, postcode and city in separate fields;
    answers quote them joined, so they are joined here the same way.
    """
    if isinstance(node, dict):
        street, number = node.get("street"), node.get("house_number")
        if isinstance(street, str) and isinstance(number, str | int):
            yield f"{street} {number}, {node.get('postal_code') or node.get('zip') or ''} {node.get('city') or ''}"
        for value in node.values():
            yield from _json_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _json_texts(value)
    elif isinstance(node, str):
        yield node


def _content_texts(content_dir: Path) -> Iterator[str]:
    for path in sorted(content_dir.rglob("*")):
        suffix = path.suffix.lower()
        try:
            if suffix in (".yaml", ".yml"):
                yield path.read_text(encoding="utf-8", errors="replace")
            elif suffix == ".json":
                yield from _json_texts(json.loads(path.read_text(encoding="utf-8-sig")))
        except (OSError, ValueError, RecursionError):
            continue  # a broken file is the ingest report's business, not the redaction's


@lru_cache(maxsize=4)
def _content_public_values(content_dir: Path = CONTENT_DIR) -> frozenset[str]:
    """The public values of the shipped content (YAML services, JSON exports), read once per process."""
    if not content_dir.is_dir():
        return frozenset()
    return public_values(_content_texts(content_dir))


@lru_cache(maxsize=1)
def _default_keys() -> frozenset[str]:
    return frozenset(_public_key(v) for v in _content_public_values())


@lru_cache(maxsize=8)
def _keys(public: frozenset[str]) -> frozenset[str]:
    return frozenset(_public_key(v) for v in public)


def redact(text: str, public: frozenset[str] | None = None) -> str:
    """Return `text` with personal data replaced by German placeholders such as [NAME] or [IBAN].

    `public`: values to keep because they are the administration's own contact data; by default
    those of the content in knowledge/content, so quoted office addresses survive, however a
    citizen spells them ("ruppertstr. 19").
    Idempotent: redacting a redacted text changes nothing, so every layer may call it safely.
    """
    if not text:
        return text
    keys = _default_keys() if public is None else _keys(public)
    for rule in _RULES_BEFORE_NAMES:
        text = _replace(text, rule, keys)
    text = _redact_names(text, _NAME_CUE)
    text = _redact_names(text, _GREETING)
    text = _redact_salutations(text)
    return text


def contains_personal_data(text: str) -> bool:
    """True if `redact` would change the text; used by tests and for audit checks on stored rows."""
    return redact(text) != text
