"""How a bot reply is presented on every channel: its sources exactly once, its languages marked.

Why one module:
- The knowledge engine hands over sources as data (`Answer.sources`: title, section, url, updated),
  not as a line in the text. The web widget renders them itself (a "Quellen" block with links);
  Telegram, WhatsApp, Matrix and partner portals that show plain text get the same sources as text
  built here, so the wording, the date format and "each link once" are decided in one place.
- Older stored messages and the degraded mode may still carry a raw "Quelle: <url> (Stand: …)"
  line. Where the message also has structured sources that line is dropped, so nobody sees the
  same link twice.
- An English question gets an English lead and the official German text. Screen readers pick
  their voice from `lang`, so the reply's data lists its parts with their language (`parts`);
  the widget marks each part. The German content is found by what it is (official text quoted
  from a source), its English lead by language detection of the leading paragraphs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import simplemma

from wording import texts

if TYPE_CHECKING:  # the text helpers are imported by every connector; they need no knowledge engine
    from bot.turns.answers import Reply

CONTENT_LANGUAGE = "de"  # the city's official texts are German
_SOURCE_LINE = re.compile(
    r"^\s*(?:Quellen?|Sources?)\s*:\s*https?://\S+(?:\s*\((?:Stand|As of)\b[^)]*\))?\s*$", re.IGNORECASE
)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def reply_data(reply: Reply) -> dict[str, Any]:
    """The data every channel needs to show a reply; the Rasa action and the degraded mode both use it."""
    answer = reply.answer
    language = answer.language if answer else CONTENT_LANGUAGE
    sources = [s.model_dump(mode="json") for s in answer.sources] if answer else []
    data: dict[str, Any] = {
        "kind": reply.kind,
        "service_id": reply.service_id,
        "sections": [str(s) for s in answer.sections] if answer else [],
        "sources": sources,
        "confidence": round(answer.confidence, 4) if answer else None,
        "language": language,
        "options": reply.options,
    }
    if reply.guess:
        data["guess"] = True  # shown, but not the conversation's topic (Reply.topic)
    if sources and language != CONTENT_LANGUAGE:
        data["parts"] = language_parts(reply.text, language)
    return data


def _is_language(paragraph: str, language: str) -> bool:
    """True when the paragraph is clearly in `language` rather than German (short or mixed text stays German)."""
    scores = dict(simplemma.langdetect(paragraph, lang=(CONTENT_LANGUAGE, language)))
    return scores.get(language, 0.0) > scores.get(CONTENT_LANGUAGE, 0.0) + 0.2


def language_parts(text: str, language: str) -> list[dict[str, str]]:
    """Split an answer into runs of paragraphs with their language; joined with blank lines they give `text`.

    Paragraphs in the citizen's language (the lead, e.g. "The official information is available in
    German only …") keep that language; everything else is quoted official content, German.
    """
    parts: list[dict[str, str]] = []
    for paragraph in text.split("\n\n"):
        lang = language if language != CONTENT_LANGUAGE and _is_language(paragraph, language) else CONTENT_LANGUAGE
        if parts and parts[-1]["lang"] == lang:
            parts[-1]["text"] += "\n\n" + paragraph
        else:
            parts.append({"lang": lang, "text": paragraph})
    return parts


def _sources(data: dict[str, Any]) -> list[dict[str, Any]]:
    raw = data.get("sources")
    return [s for s in raw if isinstance(s, dict)] if isinstance(raw, list) else []


def strip_source_lines(text: str, data: dict[str, Any]) -> str:
    """The text without raw "Quelle: <url> (Stand: …)" lines when the sources are shown from the data."""
    if not _sources(data):
        return text
    kept = [line for line in text.split("\n") if not _SOURCE_LINE.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _date(value: Any, language: str) -> str:
    match = _ISO_DATE.match(str(value or ""))
    if not match:
        return ""
    year, month, day = match.groups()
    return f"{day}.{month}.{year}" if language == "de" else f"{year}-{month}-{day}"


def sources_text(data: dict[str, Any]) -> str:
    """The sources as plain text, each address once (sections of one page are named together)."""
    language = "en" if data.get("language") == "en" else "de"
    labels = texts.SOURCE_LABELS[language]
    grouped: dict[str, dict[str, Any]] = {}
    for source in _sources(data):
        url = str(source.get("url") or "").strip()
        title = str(source.get("title") or "").strip()
        if not url and not title:
            continue
        entry = grouped.setdefault(url or title, {"url": url, "title": title, "sections": [], "date": ""})
        section = str(source.get("section_label") or "").strip()
        if section and section not in entry["sections"]:
            entry["sections"].append(section)
        entry["date"] = entry["date"] or _date(source.get("updated"), language)
    lines = []
    for entry in grouped.values():
        line = entry["title"]
        if entry["sections"]:
            line += f" ({', '.join(entry['sections'])})"
        if entry["url"]:
            line += f": {entry['url']}" if line else entry["url"]
        if entry["date"]:
            line += f" ({labels['updated']}: {entry['date']})"
        lines.append(line)
    if not lines:
        return ""
    if len(lines) == 1:
        return f"{labels['one']}: {lines[0]}"
    return f"{labels['many']}:\n" + "\n".join(f"- {line}" for line in lines)


def text_with_sources(text: str, data: dict[str, Any]) -> str:
    """What a text-only channel shows: the reply, then its sources (link and date exactly once)."""
    body = strip_source_lines(text, data)
    sources = sources_text(data)
    return f"{body}\n\n{sources}" if body and sources else body or sources
