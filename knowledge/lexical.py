"""BM25 over our analysed German terms (bm25s), the lexical half of hybrid retrieval."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np


class LexicalIndex:
    def __init__(self, ids: Sequence[str], terms: Sequence[Sequence[str]]) -> None:
        self.ids = list(ids)
        self.vocabulary: set[str] = {t for doc in terms for t in doc}
        self._bm25 = bm25s.BM25(k1=1.2, b=0.75)
        if self.ids:
            self._bm25.index([list(doc) or ["∅"] for doc in terms], show_progress=False)

    def query(self, terms: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Best passages as (id, BM25 score), best first; unknown terms are ignored."""
        known = list(dict.fromkeys(t for t in terms if t in self.vocabulary))
        if not known or not self.ids:
            return []
        scores = np.asarray(self._bm25.get_scores(known), dtype=np.float32)
        k = min(k, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
