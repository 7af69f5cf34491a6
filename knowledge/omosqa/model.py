"""Small learned models stored as plain coefficients (JSON), never pickles.

Logistic regression over standardised features is enough here: ~12k training sentences, features
that are already similarities, and coefficients a reviewer can read. Prediction is numpy only, so
the CLI loads a small JSON file (~250 kB, most of it the English→German lexicon) instead of retraining.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from knowledge.omosqa.lexicon import Lexicon

MODEL_FILE = Path(__file__).resolve().parent.parent / "data" / "omosqa_model.json"
FORMAT_VERSION = 3
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass
class Linear:
    """Standardise, then a logistic (or ranking) score: sigmoid(((x - mean) / scale) · coef + intercept)."""

    names: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def decision(self, x: np.ndarray) -> np.ndarray:
        z = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.scale, np.float32)
        return z @ np.asarray(self.coef, np.float32) + np.float32(self.intercept)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(x)))

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, names: list[str], c: float = 1.0, balanced: bool = False) -> Linear:
        """Fit with scikit-learn (training only) and keep just the numbers."""
        from sklearn.linear_model import LogisticRegression

        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale < 1e-6] = 1.0
        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)
        clf.fit((x - mean) / scale, y)
        return cls(
            names=list(names),
            mean=[float(v) for v in mean],
            scale=[float(v) for v in scale],
            coef=[float(v) for v in clf.coef_[0]],
            intercept=float(clf.intercept_[0]),
        )


@dataclass
class BagOfWords:
    """A question-only prior: some kinds of questions are rarely answered by the page they came with.

    In the training questions 19 of 22 "Unterschied" questions are unanswerable: the generator was
    asked for questions the page does not answer and compared things. Only words seen in at least
    `MIN_DF` training questions are kept, with strong regularisation, so this stays a weak prior.
    """

    weights: dict[str, float]
    intercept: float

    MIN_DF = 4

    @staticmethod
    def words(text: str) -> set[str]:
        return {w.lower() for w in _WORDS.findall(text)}

    def score(self, text: str) -> float:
        return self.intercept + sum(self.weights.get(w, 0.0) for w in self.words(text))

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[int], c: float = 0.3) -> BagOfWords:
        from sklearn.linear_model import LogisticRegression

        df = Counter(w for t in texts for w in cls.words(t))
        vocabulary = sorted(w for w, n in df.items() if n >= cls.MIN_DF)
        column = {w: i for i, w in enumerate(vocabulary)}
        x = np.zeros((len(texts), len(vocabulary)), dtype=np.float32)
        for row, text in enumerate(texts):
            for w in cls.words(text):
                if w in column:
                    x[row, column[w]] = 1.0
        clf = LogisticRegression(C=c, max_iter=2000).fit(x, np.asarray(labels))
        weights = {w: round(float(v), 4) for w, v in zip(vocabulary, clf.coef_[0], strict=True) if abs(v) >= 1e-3}
        return cls(weights=weights, intercept=float(clf.intercept_[0]))


@dataclass
class Thresholds:
    """Decision rule chosen on out-of-fold training predictions (see `training.choose_thresholds`)."""

    answerable: float = 0.5  # P(answerable) below this → empty answer
    select: float = 0.5  # a line is chosen when its probability reaches this ...
    relative: float = 0.0  # ... and at least this share of the page's best line


@dataclass
class OmosqaModel:
    sentence: Linear
    stacked: Linear
    question: Linear
    prior: BagOfWords
    ranker: dict[str, Linear]  # per question language: German questions lean on BM25, English on vectors
    thresholds: Thresholds = field(default_factory=Thresholds)
    lexicon: Lexicon = field(default_factory=Lexicon)  # English question terms → German lemmas
    info: dict[str, object] = field(default_factory=dict)

    def save(self, path: Path = MODEL_FILE) -> None:
        payload = {"format": FORMAT_VERSION, **asdict(self), "lexicon": self.lexicon.to_json()}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> OmosqaModel:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: model format {payload.get('format')} != {FORMAT_VERSION}; retrain with --train")
        return cls(
            sentence=Linear(**payload["sentence"]),
            stacked=Linear(**payload["stacked"]),
            question=Linear(**payload["question"]),
            prior=BagOfWords(**payload["prior"]),
            ranker={lang: Linear(**m) for lang, m in payload["ranker"].items()},
            thresholds=Thresholds(**payload["thresholds"]),
            lexicon=Lexicon.from_json(payload.get("lexicon", {})),
            info=payload.get("info", {}),
        )
