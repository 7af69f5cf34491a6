"""The typed contract between the Rasa actions and the turn handler (`bot.turns.protocol`)."""

from __future__ import annotations

from bot.conversation.store import Button
from bot.handoff.service import HandoffReason
from bot.turns.answers import reply_to
from bot.turns.handler import reply_event, reply_message
from bot.turns.presentation import reply_data
from bot.turns.protocol import Directive, HandoffRequest


def test_a_reply_crosses_rasa_unchanged(answerer):
    """What the action sends is exactly the data the degraded mode gives the same reply."""
    reply = reply_to(answerer, "Was kostet ein Personalausweis?")
    sent = Directive.for_reply(reply).as_json()
    assert sent == reply_data(reply)
    assert Directive.read(sent) == Directive.for_reply(reply)


def test_rasa_mode_and_degraded_mode_build_the_same_message_and_event(answerer):
    reply = reply_to(answerer, "Was kostet ein Personalausweis?")
    buttons = [Button(title=b.title, payload=b.payload) for b in reply.buttons]
    from_rasa = Directive.read(Directive.for_reply(reply).as_json())
    assert from_rasa is not None
    degraded = Directive.for_reply(reply, degraded=True)
    rasa_message = reply_message("c-123456", reply.text, buttons, from_rasa)
    degraded_message = reply_message("c-123456", reply.text, buttons, degraded)
    assert {**rasa_message.data, "degraded": True} == degraded_message.data
    rasa_event, degraded_event = reply_event("c-123456", from_rasa), reply_event("c-123456", degraded)
    assert rasa_event is not None and degraded_event is not None
    assert (rasa_event.type, rasa_event.payload) == (degraded_event.type, degraded_event.payload)


def test_an_old_handoff_reason_is_read_as_the_enum():
    directive = Directive.read({"handoff": {"reason": "repeated_abstention", "service": "personalausweis"}})
    assert directive is not None and directive.handoff == HandoffRequest(
        reason=HandoffReason.REPEATED_FAILURE, service="personalausweis"
    )
    assert directive.as_json() == {"handoff": {"reason": "repeated_failure", "service": "personalausweis"}}


def test_a_directive_outside_the_contract_is_refused():
    assert Directive.read({"kind": "answer", "handof": {"reason": "requested"}}) is None  # misspelt key
    assert Directive.read({"kind": "shrug"}) is None


def test_replies_without_an_answer_attempt_have_no_event():
    assert reply_event("c-123456", Directive(degraded=True)) is None
