"""Conversation decisions without Rasa: follow-ups, clarification, abstention."""

from bot.turns.answers import reply_to
from knowledge.models import Section


def test_follow_up_uses_the_conversation_service(answerer):
    first = reply_to(answerer, "Ich brauche einen neuen Reisepass")
    assert first.service_id == "reisepass"
    follow = reply_to(answerer, "Und was kostet der?", context_service="reisepass")
    assert follow.kind == "answer"
    assert follow.service_id == "reisepass"
    assert Section.GEBUEHREN in follow.answer.sections
    documents = reply_to(answerer, "Welche Unterlagen brauche ich dafür?", context_service="reisepass")
    assert documents.service_id == "reisepass"
    assert Section.UNTERLAGEN in documents.answer.sections


def test_new_topic_overrides_context(answerer):
    reply = reply_to(answerer, "Was kostet die Hundesteuer?", context_service="reisepass")
    assert reply.service_id == "hundesteuer"


def test_vague_word_gets_a_clarifying_question(answerer):
    reply = reply_to(answerer, "Ausweis")
    assert reply.kind == "clarify"
    assert len(reply.options) >= 2
    assert "personalausweis" in reply.options
    assert all(b.payload.startswith("/choose_service") for b in reply.buttons)


def test_chosen_service_and_section_buttons(answerer):
    reply = reply_to(answerer, "Ausweis", chosen_service="reisepass")
    assert reply.service_id == "reisepass"
    assert reply.buttons and all(b.payload.startswith("/ask_section") for b in reply.buttons)
    section = reply_to(answerer, "Gebühren", context_service="reisepass", sections=[Section.GEBUEHREN])
    assert section.answer.sections == [Section.GEBUEHREN]


def test_out_of_scope_abstains(answerer):
    assert reply_to(answerer, "Was ist die beste Pizza in Rom?").kind == "abstain"


def test_tied_services_get_a_clarifying_question(answerer):
    reply = reply_to(answerer, "Welche Unterlagen brauche ich für die Anmeldung?")
    assert reply.kind in ("clarify", "answer")
    if reply.kind == "clarify":
        assert "anmeldung-wohnsitz" in reply.options


def test_a_request_for_a_person_is_no_follow_up_and_no_vague_question(answerer):
    """Within a conversation about the Reisepass, as without one: the offer of a person, as /api/ask says."""
    for context in (None, "reisepass"):
        reply = reply_to(answerer, "Kann ich bitte mit einem Mitarbeiter sprechen?", context_service=context)
        assert reply.kind == "abstain" and reply.answer.reason == "person_requested", (context, reply)
