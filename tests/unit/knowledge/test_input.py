"""The one citizen-input rule (`knowledge.input`), as the channels and the answerer see it.

Before it, the answerer had a rule of its own: it let a few control characters through (a bell in
"Was kostet\\x07 ein Pass?" reached retrieval), while every channel refused any.
"""

from __future__ import annotations

import pytest

from connectors.common import CitizenInputError, check_citizen_input, text_problem
from knowledge.answering import check_input
from knowledge.input import InputRefusedError, question_problem, refusal
from knowledge.input import check_input as door_check
from wording.texts import EMPTY_DE, TOO_LONG_DE, UNREADABLE_DE


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Was kostet\x07 ein Pass?", "unreadable"),  # one control character: the answerer used to let it through
        ("Was kostet\x1b ein\x07 Pass?", "unreadable"),
        ("Perso\ud800 kosten", "unreadable"),
        ("Perso\ufffd kosten", "unreadable"),  # a wrong decoding upstream
        ("???", "empty"),
        ("   ", "empty"),
        ("x" * 2001, "too_long"),
    ],
)
def test_the_answerer_applies_the_channels_rule_with_its_own_words(text: str, reason: str) -> None:
    problem = check_input(text, 2000)
    assert problem is not None and problem.reason == reason
    assert problem.text == {"unreadable": UNREADABLE_DE, "empty": EMPTY_DE, "too_long": TOO_LONG_DE}[reason]


def test_the_answerer_and_the_channels_share_the_configured_limit() -> None:
    fits, over = "a" * 2500, "a" * 3001
    assert check_input(fits, 3000) is None and check_citizen_input(fits, max_chars=3000) == (fits, None)
    assert check_input(over, 3000).reason == "too_long"  # type: ignore[union-attr]
    with pytest.raises(CitizenInputError) as refused:
        check_citizen_input(over, max_chars=3000)
    assert refused.value.code == "too_long" and "3000" in str(refused.value)


@pytest.mark.parametrize("text", ["Hallo\x00", "a\ud800", "\x1b[31m", " ", "a" * 2101, 42, None])
def test_the_channels_wrapper_refuses_exactly_what_the_rule_refuses(text: object) -> None:
    with pytest.raises(InputRefusedError) as rule:
        door_check(text, None, 2000)
    with pytest.raises(CitizenInputError) as channel:
        check_citizen_input(text, None, 2000)
    assert channel.value.code == rule.value.code
    if isinstance(text, str):
        assert text_problem(text, 2000) == refusal(text, 2000) == rule.value.code


def test_a_typed_number_passes_the_door_but_is_no_question() -> None:
    """Messengers pass "2" on (it picks an offered option); only the answerer finds nothing to answer."""
    assert refusal("2") is None
    assert question_problem("2") == "empty"


def test_payloads_are_checked_too() -> None:
    assert door_check("Ja", "/affirm", 2000) == ("Ja", "/affirm")
    assert door_check("Ja", "", 2000) == ("Ja", None)
    for payload, code in [("/x\x00", "control_chars"), ("/" + "x" * 500, "too_long"), (7, "invalid")]:
        with pytest.raises(InputRefusedError) as refused:
            door_check("Ja", payload, 2000)
        assert refused.value.code == code
