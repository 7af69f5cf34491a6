"""Calibrated confidence: how likely the top-ranked service is the right one.

A small logistic model over retrieval signals (dense similarity, BM25 evidence, agreement of
both retrievers, margin to the runner-up, how much of the question the content knows). It is fitted
at ingest time on the content itself: synthetic questions built from service names and keywords
(positive when retrieval ranks their service first) and a fixed list of out-of-scope questions
(always negative). So the threshold means the same thing after new content arrives, and no
evaluation question is ever used for fitting.
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge.text import STOPWORDS, normalize

if TYPE_CHECKING:
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
)
OUT_OF_SCOPE_FILE = Path(__file__).parent / "data" / "out_of_scope.txt"
MAX_POSITIVE_SAMPLES = 480
CALIBRATION_VERSION = 4  # bump when retrieval or features change, so indexes refit at the next ingest

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

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias + sum(self.weights[name] * features.get(name, 0.0) for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def save(self, path: Path) -> None:
        payload = {"version": CALIBRATION_VERSION, "weights": self.weights, "bias": self.bias}
        path.write_text(json.dumps(payload, indent=1))

    @classmethod
    def load(cls, path: Path) -> Calibrator | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if data.get("version") != CALIBRATION_VERSION or set(data.get("weights", {})) != set(FEATURES):
            return None  # fitted for other features or retrieval: refit at the next ingest
        return cls(weights={k: float(v) for k, v in data["weights"].items()}, bias=float(data["bias"]))


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


def fit(index: KnowledgeIndex) -> Calibrator:
    """Fit the confidence model on synthetic in-scope and fixed out-of-scope questions."""
    from sklearn.linear_model import LogisticRegression

    from knowledge.retrieval import retrieve

    pairs = synthetic_questions(index)
    negatives = out_of_scope_questions()
    questions = [q for q, _ in pairs] + negatives
    expected = [sid for _, sid in pairs] + [None] * len(negatives)
    vectors = index.embedder.embed_queries(questions)  # one batch: much faster than one call per question
    rows: list[list[float]] = []
    labels: list[int] = []
    for question, service_id, vector in zip(questions, expected, vectors, strict=True):
        result = retrieve(index, question, query_vector=vector)
        rows.append([result.features[name] for name in FEATURES])
        labels.append(int(service_id is not None and result.top is not None and result.top.service_id == service_id))
    if len(set(labels)) < 2 or sum(labels) < 10:
        return DEFAULT
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    model.fit(rows, labels)
    weights = {name: float(w) for name, w in zip(FEATURES, model.coef_[0], strict=True)}
    return Calibrator(weights=weights, bias=float(model.intercept_[0]))
