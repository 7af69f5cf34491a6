"""The one check of what a citizen writes: every channel applies it at the door, the answerer again.

Why it lives here, in the lowest layer: the answerer (`knowledge.answering`) must refuse the same
text the channels refuse (the CLI, the evaluation and the Rasa actions reach it without a channel),
and `knowledge/` never imports the bot or the connectors. So the rule is written once, here, and
returns codes only; the wording is the caller's (channels: `wording.texts` via
`connectors.common`, the answerer: its own texts there, `EMPTY_DE` and the like).

The rule: text and payload are strings; text is at most `max_chars` characters once surrounding
whitespace is stripped (`Settings.max_question_chars`, `BUERGERBOT_MAX_QUESTION_CHARS`, the same on
every channel); no control characters except tab and line breaks; no lone surrogates. JSON may spell
a lone surrogate (`"\\ud800"`); such a string cannot be encoded as UTF-8, so Redis, logs, JSON
responses and the German analysis would all fail on it later, far from the cause.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

DEFAULT_MAX_CHARS = 2000  # the default of max_question_chars; callers pass the configured limit
HARD_MAX_CHARS = 20_000  # no configuration allows more (the bound of max_question_chars)
MAX_PAYLOAD_CHARS = 500  # button payloads are ours ("/intent{...}") and short
WHITESPACE_SLACK_CHARS = 100  # surrounding whitespace is forgiven up to this much before the scan

# Why a message is refused; callers map the code to their own wording.
Refusal = Literal["invalid", "too_long", "control_chars", "empty"]
# Why the answerer cannot answer a question (the reasons of an abstaining `Answer`).
QuestionProblem = Literal["too_long", "unreadable", "empty"]

REPLACEMENT_CHAR = "\ufffd"  # what a wrong decoding upstream leaves behind


class InputRefusedError(ValueError):
    """A citizen's message that is not processed; `code` says why (a `Refusal`)."""

    def __init__(self, code: Refusal) -> None:
        super().__init__(code)
        self.code: Refusal = code


def has_bad_chars(value: str) -> bool:
    """Control characters (tab and line breaks are fine) and lone surrogates, which cannot be encoded."""
    return any(
        (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r") or unicodedata.category(ch) == "Cs" for ch in value
    )


def check_input(text: object, payload: object = None, max_chars: int = DEFAULT_MAX_CHARS) -> tuple[str, str | None]:
    """The text (stripped) and payload of a citizen's message, or `InputRefusedError` saying why not.

    Order matters for the reply: a wrong type is "invalid", overlong text is "too long" before its
    characters are looked at (the scan is then bounded), and whitespace-only text is "empty". An empty
    payload counts as none: widgets send `""` for a typed message.
    """
    if not isinstance(text, str) or (payload is not None and not isinstance(payload, str)):
        raise InputRefusedError("invalid")
    if len(text) > max_chars + WHITESPACE_SLACK_CHARS or (payload is not None and len(payload) > MAX_PAYLOAD_CHARS):
        raise InputRefusedError("too_long")
    if has_bad_chars(text) or (payload is not None and has_bad_chars(payload)):
        raise InputRefusedError("control_chars")
    stripped = text.strip()
    if not stripped:
        raise InputRefusedError("empty")
    if len(stripped) > max_chars:
        raise InputRefusedError("too_long")
    return stripped, (payload or None)


def refusal(text: object, max_chars: int = DEFAULT_MAX_CHARS) -> Refusal | None:
    """Why a citizen's text is refused, or None when it passes `check_input`."""
    try:
        check_input(text, max_chars=max_chars)
    except InputRefusedError as exc:
        return exc.code
    return None


def question_problem(question: object, max_chars: int = DEFAULT_MAX_CHARS) -> QuestionProblem | None:
    """Why the answerer cannot answer a question, or None: the channels' rule, then what only a question needs.

    A text that passes the door can still be unanswerable: a replacement character means a wrong
    decoding upstream ("unreadable"), and a text without a single letter ("???", "123", emoji) asks
    nothing. Those stay out of the door rule because a channel must pass them on (a typed "2" picks an
    offered option).
    """
    code = refusal(question, max_chars)
    if code == "too_long" or code == "empty":
        return code
    if code is not None:  # invalid type, control characters, lone surrogates
        return "unreadable"
    assert isinstance(question, str)  # refusal() said "invalid" otherwise
    if REPLACEMENT_CHAR in question:
        return "unreadable"
    if not any(ch.isalpha() for ch in question):
        return "empty"
    return None
