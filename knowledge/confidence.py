"""Calibrated confidence: how likely the top-ranked service is the right one.

A small logistic model over retrieval signals (dense similarity, BM25 evidence, agreement of
both retrievers, margin to the runner-up, how much of the question the content knows). It is fitted
at ingest time on the content itself: synthetic questions built from service names and keywords
(positive when retrieval ranks their service first) and a fixed list of out-of-scope questions
(always negative). So the threshold means the same thing after new content arrives, and no
evaluation question is ever used for fitting.

Whether the question is about the content at all is a second, separate model: the *scope* check.
The confidence model cannot answer it: it learns from short synthetic questions ("Ich habe eine
Frage zu Reisepass") and real questions are long and narrative ("Meine Bank will einen Nachweis,
dass ich hier wohne"), so their coverage and rank features look like those of off-topic questions;
as one model, it turned away one answerable question in five. The scope model reads only how close
the question is to the content as a whole: the best service card (multilingual-e5), the best
passage (USE) and *novelty*, how much closer the question is to the content than to the nearest
known out-of-scope question. It is fitted on the synthetic questions (in scope) against the
out-of-scope list, and its bar is set so that it turns away at most `SCOPE_PERCENTILE` % of the
content's own synthetic questions. Below the bar, and unless retrieval is confident anyway (a
question naming a service that merely sounds like an off-topic example), the assistant abstains.
Above it, a question with low confidence is in scope but its service is uncertain: answering.py
then answers the most likely service and says that it is unsure.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from knowledge.calibration import DEFAULT, FEATURES, NOVELTY, SCOPE_FEATURES, Calibrator, retrieval_tag
from knowledge.embeddings import unit_rows
from knowledge.out_of_scope import novelty_references, out_of_scope_questions
from knowledge.retrieval import retrieve
from knowledge.text import STOPWORDS, normalize

if TYPE_CHECKING:
    from knowledge.index import KnowledgeIndex

# the scope check may turn away this share (in %) of the content's own synthetic in-scope questions
SCOPE_PERCENTILE = 2.0
# a synthetic question counts as in scope for the scope model when its service is among the first
# this many: a question retrieval places in the right family is about what the content covers,
# and which sibling comes first must not move the scope bar (`fit`)
SCOPE_RANKS = 3
MAX_POSITIVE_SAMPLES = 480

_TEMPLATES_DE = (
    "{kw}",
    "Ich habe eine Frage zu {kw}",
    "Was muss ich bei {kw} beachten?",
    "Infos zu {kw} bitte",
)
_TEMPLATES_EN = ("{kw}", "I have a question about {kw}")


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
    """Fit the confidence model on synthetic in-scope and fixed out-of-scope questions.

    Retrieval here runs without the answer-line evidence the answerer adds (`retrieval.retrieve`):
    scoring every line of every service would add about 19 s to an ingest of Munich's catalogue,
    and fitted with it, munich_dev and the Munich hold-out got the same rankings and facts.

    The scope model (module doc) learns from the synthetic questions whose service retrieval ranked
    among the first `SCOPE_RANKS` against the out-of-scope list. Only those ranked first, as before,
    made its bar (a low percentile) move with the order of near-duplicate siblings: a retrieval
    change that only reorders families turned answerable questions away. An out-of-scope question
    is compared with the *other* out-of-scope questions only (leave one out), as a new off-topic
    question would be.
    """
    from sklearn.linear_model import LogisticRegression

    pairs = synthetic_questions(index)
    negatives = out_of_scope_questions()
    questions = [q for q, _ in pairs] + negatives
    expected = [sid for _, sid in pairs] + [None] * len(negatives)
    vectors = index.embedder.embed_queries(questions)  # one batch: much faster than one call per question
    off_topic = index.off_topic_vectors
    similar = unit_rows(vectors) @ off_topic.T if len(off_topic) else np.zeros((len(questions), 0), np.float32)
    references = novelty_references()
    for row, question in enumerate(questions[len(pairs) :], start=len(pairs)):
        for column, other in enumerate(references):  # leave one out: the question itself (and copies of it)
            if other == question:
                similar[row, column] = -1.0
    rows: list[list[float]] = []
    labels: list[int] = []
    scope_rows: list[list[float]] = []
    found: list[bool] = []
    for row, (question, service_id, vector) in enumerate(zip(questions, expected, vectors, strict=True)):
        result = retrieve(index, question, query_vector=vector)
        rows.append([result.features[name] for name in FEATURES])
        labels.append(int(service_id is not None and result.top is not None and result.top.service_id == service_id))
        found.append(service_id is not None and service_id in [h.service_id for h in result.hits[:SCOPE_RANKS]])
        features = dict(result.features)
        features[NOVELTY] = features["dense_top"] - float(similar[row].max()) if len(off_topic) else 0.0
        scope_rows.append([features.get(name, 0.0) for name in SCOPE_FEATURES])
    if len(set(labels)) < 2 or sum(labels) < 10:
        return replace(DEFAULT, retrieval=retrieval_tag(index.settings))
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    model.fit(rows, labels)
    weights = {name: float(w) for name, w in zip(FEATURES, model.coef_[0], strict=True)}
    in_scope = [r for r, hit in zip(scope_rows, found, strict=True) if hit]
    out_of_scope = scope_rows[len(pairs) :]
    scope = _fit_scope(in_scope, out_of_scope) if len(off_topic) and out_of_scope else None
    return Calibrator(
        weights=weights,
        bias=float(model.intercept_[0]),
        scope_weights=scope[0] if scope else None,
        scope_bias=scope[1] if scope else 0.0,
        scope_floor=scope[2] if scope else None,
        retrieval=retrieval_tag(index.settings),
    )


def _fit_scope(in_scope: list[list[float]], out_of_scope: list[list[float]]) -> tuple[dict[str, float], float, float]:
    """Weights, bias and bar of the scope model (module doc), on raw features.

    The features live on very different scales (e5 cosines crowd near 0.85, novelty spans -1..1):
    they are standardised for fitting and the scaling is folded back into the weights.
    """
    from sklearn.linear_model import LogisticRegression

    data = np.asarray(in_scope + out_of_scope, dtype=np.float64)
    mean, std = data.mean(axis=0), data.std(axis=0)
    std[std < 1e-9] = np.inf  # a constant feature (cards switched off) gets weight 0
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    model.fit((data - mean) / std, [1] * len(in_scope) + [0] * len(out_of_scope))
    coef = model.coef_[0] / std
    bias = float(model.intercept_[0] - np.dot(coef, mean))
    scores = np.asarray(in_scope, dtype=np.float64) @ coef + bias
    floor = float(np.percentile(scores, SCOPE_PERCENTILE))
    return {name: float(w) for name, w in zip(SCOPE_FEATURES, coef, strict=True)}, bias, floor
