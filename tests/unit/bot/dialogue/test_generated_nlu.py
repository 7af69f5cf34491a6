"""The NLU data generated from content must be usable by Rasa as written (no skipped annotations)."""

from __future__ import annotations

import re
from types import SimpleNamespace

from bot.dialogue.supervisor import knowledge_nlu, render_nlu
from knowledge.models import Service

ANNOTATION = re.compile(r"\[([^\]]*)\]\{\"entity\": \"service\", \"value\": \"([^\"]+)\"\}")


def _services() -> dict[str, Service]:
    services = [
        Service(
            id="ummeldung-wohnsitz",
            title="Wohnsitz ummelden (Umzug innerhalb Münchens)",
            keywords=["Ummeldung", "Umzug [innerhalb]", "neue Adresse melden.", "ab"],
            source_url="https://example.org/ummeldung",
        ),
        Service(
            id="reisepass", title="Reisepass beantragen", keywords=["Pass", "passport"], source_url="https://x.org"
        ),
    ]
    return {s.id: s for s in services}


def test_entity_texts_line_up_with_whitespace_tokens():
    # Rasa's WhitespaceTokenizer drops brackets and trailing punctuation: an entity that starts or
    # ends on one of them is misaligned and silently ignored in training.
    text = render_nlu(knowledge_nlu(SimpleNamespace(services=_services())))  # type: ignore[arg-type]
    entities = ANNOTATION.findall(text)
    assert ("Wohnsitz ummelden", "ummeldung-wohnsitz") in entities
    for entity, _ in entities:
        assert entity == entity.strip(" ,.;:!?()[]{}"), entity
        assert not re.search(r"[()\[\]{}]", entity), entity
    assert "neue Adresse melden" in text
    assert "- ab\n" not in text  # too short to be a name: it would tag every "ab" as a service


def test_every_service_gets_examples_synonyms_and_lookup():
    data = knowledge_nlu(SimpleNamespace(services=_services()))  # type: ignore[arg-type]
    blocks = data["nlu"]  # type: ignore[index]
    synonyms = {b["synonym"] for b in blocks if "synonym" in b}
    assert synonyms == {"ummeldung-wohnsitz", "reisepass"}
    lookup = next(b for b in blocks if "lookup" in b)["examples"]
    assert "- Reisepass beantragen\n" in lookup
