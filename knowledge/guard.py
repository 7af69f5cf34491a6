"""Recognise attempts to make the assistant leave its job (prompt injection, jailbreaks).

The extractive path cannot be talked into anything, but such questions must not be answered
with a random service either, and the optional LLM path must never see them as instructions.
"""

from __future__ import annotations

import re

_INJECTION = re.compile(
    r"(ignorier\w*|vergiss|missachte\w*|überschreib\w*|ignore|disregard|forget|override)\b.{0,40}"
    r"\b(anweisung\w*|instruktion\w*|regeln|vorgaben|befehl\w*|instructions?|rules|prompt|guidelines)"
    r"|system\s*-?\s*prompt|systemnachricht|system message|developer mode|entwicklermodus|jailbreak"
    r"|\b(du bist (jetzt|ab sofort|nun)|ab (jetzt|sofort|heute) bist du|you are now|from now on you|act as|"
    r"tu so,? als|pretend to be|do anything now)\b"
    r"|\b(keinerlei|keine|ohne|no|without)\s+(einschränkung\w*|beschränkung\w*|regeln|filter|restrictions?|rules|limits)\b"
    r"|(zeig|gib|verrat|nenn)\w*\b.{0,30}\b(konfiguration|api[- ]?key|passwort|geheim\w*)"
    r"|(reveal|show|print)\b.{0,30}\b(configuration|api[- ]?key|password|secret|hidden)",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(text))


_CREATIVE_TASK = re.compile(
    r"\b(erzähl\w*|erzaehl\w*|schreib\w*|dichte\w*|reim\w*|verfass\w*|komponier\w*|sing\w*|tell|write|compose|sing)\b"
    r".{0,40}\b(witz\w*|gedicht\w*|geschichte\w*|märchen|maerchen|lied\w*|songs?|haikus?|jokes?|poems?|stor(y|ies)|"
    r"raps?|essays?|aufsatz|limerick\w*)\b",
    re.IGNORECASE,
)


def looks_like_creative_task(text: str) -> bool:
    """Requests to write jokes, poems or stories: never a service question, even when they mention one."""
    return bool(_CREATIVE_TASK.search(text))
