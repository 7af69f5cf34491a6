"""What the assistant can help with, in the words of the loaded content.

The abstention and the refusal tell a citizen what to ask instead. A hard-coded list offered waste
and city taxes that Munich's catalogue does not contain, so the list is read off the services'
names: the nouns most names share ("Personalausweis", "Fahrzeug", "Führerschein", "Rente" …),
each counted once per service. Words that name an *action* on a thing rather than the thing
("Antrag", "Verlust", "Änderung") are general German administrative vocabulary, not topics.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from knowledge.models import Service

ACTION_NOUNS = frozenset(
    {
        "Abholung", "Abmeldung", "Anmeldung", "Antrag", "Anträge", "Änderung", "Anzeige", "Ausstellung",
        "Auskunft", "Beantragung", "Beratung", "Bescheinigung", "Diebstahl", "Erklärung", "Erstantrag",
        "Erteilung", "Information", "Informationen", "Neuantrag", "Termin", "Umschreibung", "Ummeldung",
        "Verlängerung", "Verlust", "Widerruf", "Zweitschrift", "Allgemein", "Ersatz", "Stadt", "München",
    }
)  # fmt: skip
_NOUN = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]{3,}\b")
DEFAULT_LIMIT = 8


def topic_words(services: Iterable[Service], limit: int = DEFAULT_LIMIT) -> list[str]:
    """The `limit` nouns that most service names share, most frequent first (ties alphabetical)."""
    counts: Counter[str] = Counter()
    for service in services:
        counts.update({word for word in _NOUN.findall(service.title) if word not in ACTION_NOUNS})
    chosen: list[str] = []
    for word, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        if len(chosen) == limit or (n < 2 and len(counts) > limit):
            break
        # one topic once: "Erlaubnis" adds nothing after "Aufenthaltserlaubnis", nor the reverse
        if not any(word.lower() in other.lower() or other.lower() in word.lower() for other in chosen):
            chosen.append(word)
    return chosen


def topics_text(services: Iterable[Service], limit: int = DEFAULT_LIMIT) -> str:
    """The topic words as a German list ("A, B und C"); empty when the content names none."""
    words = topic_words(services, limit)
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + " und " + words[-1]
