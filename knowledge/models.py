"""Our own types for official content and answers.

Every importer produces `Service` records and every retriever speaks `Passage`, so vendor
libraries (Chroma, bm25s, LangChain) stay behind small adapters and can be swapped.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wording import texts


class Section(StrEnum):
    """The sections a service description may have, in the order citizens read them."""

    UEBERBLICK = "ueberblick"
    VORAUSSETZUNGEN = "voraussetzungen"
    UNTERLAGEN = "unterlagen"
    GEBUEHREN = "gebuehren"
    FRISTEN = "fristen"
    ABLAUF = "ablauf"
    ZUSTAENDIGE_STELLE = "zustaendige_stelle"
    ONLINE_DIENST = "online_dienst"
    FORMULARE = "formulare"

    @property
    def label_de(self) -> str:
        return SECTION_LABELS_DE[self]

    @property
    def label_en(self) -> str:
        return SECTION_LABELS_EN[self]


# the labels citizens read (`wording.texts`, by section value)
SECTION_LABELS_DE: dict[Section, str] = {section: texts.SECTION_LABELS_DE[section.value] for section in Section}
SECTION_LABELS_EN: dict[Section, str] = {section: texts.SECTION_LABELS_EN[section.value] for section in Section}


class Link(BaseModel):
    """A hyperlink kept from the source, so answers can point citizens to forms and portals."""

    model_config = ConfigDict(frozen=True)

    title: str
    url: str


class Service(BaseModel):
    """One citizen service (Leistung) as the city publishes it.

    `sections` maps a `Section` to plain German text; bullet lists are lines starting with
    "- ". Only sections that apply are present.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=120)
    title: str = Field(min_length=2)
    summary: str = ""
    sections: dict[Section, str] = Field(default_factory=dict)
    keywords: list[str] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    source_url: str
    updated: date | None = None
    language: str = "de"
    demo: bool = False
    origin: str = ""  # where it was imported from (file path or URL), for ingest reports

    @field_validator("sections")
    @classmethod
    def _drop_empty_sections(cls, value: dict[Section, str]) -> dict[Section, str]:
        return {k: v.strip() for k, v in value.items() if v and v.strip()}

    @property
    def is_web_page(self) -> bool:
        """Whether the whole text is its overview: a web page (an Integreat export), no catalogue entry.

        A catalogue entry (DLDB, our own format) splits its text into Gebühren, Unterlagen, Fristen …
        and is named by a scheme (object, then the variant: "Verlust oder Diebstahl
        Personalausweis"); a web page is prose under a topical heading ("Sozialwohnungen").
        Family ranking treats the two differently (`retrieval.weigh_siblings`); answer passages make
        the same distinction from a service's lines (`extraction`).
        """
        return all(section is Section.UEBERBLICK for section in self.sections)

    def content_hash(self) -> str:
        """Hash of everything that affects retrieval, used for incremental ingestion."""
        payload = self.model_dump(mode="json", exclude={"origin"})
        raw = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(raw).hexdigest()[:20]


class Passage(BaseModel):
    """A retrievable piece of a service: one section, or a part of a long one."""

    model_config = ConfigDict(frozen=True)

    id: str
    service_id: str
    section: Section
    text: str
    source_url: str
    title: str = ""

    def content_hash(self) -> str:
        raw = f"{self.service_id}\x1f{self.section}\x1f{self.title}\x1f{self.text}".encode()
        return hashlib.sha256(raw).hexdigest()[:20]


class Source(BaseModel):
    """What a citizen needs to verify an answer: where it came from and how fresh it is."""

    title: str
    section: Section
    section_label: str
    url: str
    updated: date | None = None


GUESS_REASON = "unsure"  # `Answer.reason` of a guess
PERSON_REQUESTED_REASON = "person_requested"  # `Answer.reason`: the citizen asked for a person


class Answer(BaseModel):
    """The knowledge engine's reply. `text` contains only sentences taken from official content."""

    text: str
    service_id: str | None = None
    service_title: str | None = None
    sections: list[Section] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    confidence: float = 0.0
    abstained: bool = False
    language: str = "de"
    reason: str | None = None  # why we abstained or were unsure (GUESS_REASON), for logs and metrics (never shown raw)
    alternatives: list[str] = Field(default_factory=list)  # other likely service ids

    @property
    def is_guess(self) -> bool:
        """The likeliest service's answer, introduced as a guess (`Answerer.unsure_answer`)."""
        return not self.abstained and self.reason == GUESS_REASON

    def to_public_json(self) -> dict[str, object]:
        """The stable shape `buergerbot ask --json` promises."""
        return {
            "answer": self.text,
            "service_id": self.service_id,
            "sections": [str(s) for s in self.sections],
            "sources": [s.model_dump(mode="json") for s in self.sources],
            "confidence": round(self.confidence, 4),
            "abstained": self.abstained,
        }
