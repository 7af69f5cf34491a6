"""Known out-of-scope questions (`knowledge/data/out_of_scope.txt`): negatives and novelty references."""

from __future__ import annotations

from pathlib import Path

from knowledge.text import detect_language

OUT_OF_SCOPE_FILE = Path(__file__).parent / "data" / "out_of_scope.txt"


def out_of_scope_questions() -> list[str]:
    lines = OUT_OF_SCOPE_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def novelty_references() -> list[str]:
    """The out-of-scope questions novelty compares with: those in the content's language (German).

    Compared with English examples too, an English question about the content ("Someone found my
    bicycle? Where can I pick it up?") was closer to "Where can I buy …?" than to the German
    passages, for its language, not its topic. Against German references both sides of the
    comparison cross languages alike.
    """
    return [q for q in out_of_scope_questions() if detect_language(q) == "de"]
