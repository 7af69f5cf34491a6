"""Optional LLM path against a local fake OpenAI-compatible server: grounded or rejected."""

from __future__ import annotations

from knowledge.llm import LlmAnswerer, unsupported_claims
from tests.fake_llm import FakeLlm

SOURCES = (
    "Personalausweis – Gebühren:\n- 37,00 Euro ab 24 Jahren\n- Die Herstellung dauert drei bis vier Wochen.\n"
    "Unterlagen: Passfoto"
)


def test_grounding_check_finds_invented_facts():
    assert unsupported_claims("Der Personalausweis kostet 37,00 Euro.", SOURCES) == []
    assert unsupported_claims("Der Personalausweis kostet 45 Euro.", SOURCES) == ["45euro"]
    assert unsupported_claims("Bringen Sie Ihre Meldebescheinigung mit.", SOURCES) == ["Meldebescheinigung"]
    assert unsupported_claims("Es dauert 12 Wochen.", SOURCES) == ["12 Wochen"]


def test_grounded_reply_is_used(answerer, demo_settings):
    with FakeLlm() as llm:
        llm.reply = "Ein Personalausweis kostet ab 24 Jahren 37,00 Euro."
        settings = demo_settings.model_copy(update={"llm_url": llm.url})
        answer = LlmAnswerer(answerer, settings).answer("Was kostet ein Personalausweis?")
        assert answer.text.startswith("Ein Personalausweis kostet ab 24 Jahren 37,00 Euro.")
        assert "Quelle:" in answer.text
        prompt = llm.requests[0]["messages"]
        assert "AMTLICHE AUSZÜGE" in prompt[1]["content"]


def test_invented_fee_falls_back_to_extractive(answerer, demo_settings):
    with FakeLlm() as llm:
        llm.reply = "Ein Personalausweis kostet 99 Euro und Sie brauchen einen Mietvertrag."
        settings = demo_settings.model_copy(update={"llm_url": llm.url})
        answer = LlmAnswerer(answerer, settings).answer("Was kostet ein Personalausweis?")
        assert "99 Euro" not in answer.text
        assert answer.text == answerer.answer("Was kostet ein Personalausweis?").text


def test_unreachable_endpoint_falls_back(answerer, demo_settings):
    settings = demo_settings.model_copy(update={"llm_url": "http://127.0.0.1:9/v1", "llm_timeout_s": 1.0})
    answer = LlmAnswerer(answerer, settings).answer("Was kostet ein Reisepass?")
    assert answer.service_id == "reisepass" and "Euro" in answer.text
