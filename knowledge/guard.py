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
    r"|\b(du bist jetzt|ab jetzt bist du|you are now|act as|tu so als|pretend to be)\b"
    r"|(zeig|gib|verrat|nenn)\w*\b.{0,30}\b(konfiguration|api[- ]?key|passwort|geheim\w*)"
    r"|(reveal|show|print)\b.{0,30}\b(configuration|api[- ]?key|password|secret|hidden)",
    re.IGNORECASE,
)


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(text))
