"""Which part of a service a question asks about ("Was kostet…" → Gebühren).

Plain patterns, German and English, because the question types are few and stable, and a rule
that is wrong can be read and fixed by a city editor; no model needed.
"""

from __future__ import annotations

import re

from knowledge.models import Section

_PATTERNS: list[tuple[Section, re.Pattern[str]]] = [
    (
        Section.GEBUEHREN,
        re.compile(
            r"\b(kost\w*|gebühr\w*|gebuehr\w*|preis\w*|teuer\w*|bezahl\w*|zahl(e|en|t)\b|euro|€|wie ?viel geld|"
            # "Was verlangt ihr dafür?", "Was nehmen Sie dafür?": a price asked without naming it ("Was
            # verlangen Sie von mir …" asks for requirements, "Was nimmt man dafür mit?" for documents,
            # and "umsonst" also means "in vain")
            r"was verlang\w* (ihr|sie) dafür|was (nimm|nehm)\w* (ihr|sie|man) dafür(?!\s+mit\b)|gratis|"
            r"steuersatz|how much|cost\w*|fees?|price|pay)\b",
            re.I,
        ),
    ),
    (
        Section.UNTERLAGEN,
        re.compile(
            r"\b(unterlag\w*|dokument\w*|nachweis\w*|mitbring\w*|mitnehm\w*|was brauch\w*|brauch\w* ich|"
            r"benötig\w*|benoetig\w*|foto|documents?|papers?|bring|need)\b",
            re.I,
        ),
    ),
    (
        Section.FRISTEN,
        re.compile(
            r"\b(frist\w*|bis wann|ab wann|wie lange?|wie früh|wie frueh|im voraus|wie viel zeit|wieviel zeit|"
            r"wann muss|dauer\w*|dauert|gültig\w*|how early|in advance|"
            r"(?<!ab )wie ?viele?n? (?:tag|woche|monat|jahr)\w*|how many (?:days|weeks|months|years)|"
            r"gueltig\w*|läuft ab|laeuft ab|abgelaufen|rechtzeitig|innerhalb|deadline|how long|valid\w*|expire\w*)\b",
            re.I,
        ),
    ),
    (
        Section.ONLINE_DIENST,
        re.compile(r"\b(online|internet|digital\w*|website|webseite|portal|e-?mail)\b", re.I),
    ),
    (
        Section.FORMULARE,
        re.compile(r"\b(formular\w*|vordruck\w*|antragsformular\w*|download\w*|forms?)\b", re.I),
    ),
    (
        Section.ZUSTAENDIGE_STELLE,
        re.compile(
            r"(\bwo\b|\bwohin\b|\bwer (ist|stellt)|zuständig\w*|zustaendig\w*|adresse|öffnungszeit\w*|"
            r"oeffnungszeit\w*|geöffnet|geoeffnet|auf hat|offen\b|sprechzeit\w*|telefon\w*|\bwhere\b|"
            r"opening hours|\boffice\b)",
            re.I,
        ),
    ),
    (
        Section.VORAUSSETZUNGEN,
        re.compile(
            r"\b(muss ich|müssen wir|muessen wir|darf ich|dürfen wir|anspruch|berechtigt|voraussetzung\w*|"
            r"brauche ich (eine|einen) (genehmigung|erlaubnis|schein)|wer kann|wer darf|eligible|do i have to|"
            r"must i|am i allowed|entitled)\b",
            re.I,
        ),
    ),
    (
        Section.ABLAUF,
        re.compile(
            r"\b(wie (beantrag|bekomm|melde|mach|geht|funktion|kann ich|werde)\w*|ablauf|schritt\w*|"
            r"vorgehen|beantrag\w*|how (do|can) i|how to|apply)\b",
            re.I,
        ),
    ),
]


def requested_sections(question: str) -> list[Section]:
    """Sections the question asks for, most specific first; empty when it asks in general."""
    found = [section for section, pattern in _PATTERNS if pattern.search(question)]
    # "Was brauche ich, um …" asks for documents; "Brauche ich eine Genehmigung" for requirements;
    # "Muss ich … und was muss ich mitbringen?" for both.
    if Section.VORAUSSETZUNGEN in found and Section.UNTERLAGEN in found and not _NAMES_DOCUMENTS.search(question):
        found.remove(Section.UNTERLAGEN)
    return found


# words that ask for documents whatever else the question asks (unlike "brauche ich …")
_NAMES_DOCUMENTS = re.compile(
    r"\b(unterlag\w*|dokument\w*|nachweis\w*|mitbring\w*|mitnehm\w*|documents?|papers?|bring)\b", re.I
)


def asks_for(word: str, sections: list[Section]) -> bool:
    """Whether `word` is one of the words that ask for one of `sections` ("kosten" for Gebühren).

    Such a word says what kind of fact is wanted, which the answer-line scorer weighs as a kind; as
    a plain word it would favour any line that repeats it ("… kostet …") over the amount.
    """
    return any(pattern.fullmatch(word) for section, pattern in _PATTERNS if section in sections)
