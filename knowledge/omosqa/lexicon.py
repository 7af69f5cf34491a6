"""An English → German word lexicon learned from the parallel training contexts (IBM model 1).

The training split holds every question and its page in both languages with the lines aligned one
to one (same `id`, same line count): a small parallel corpus of the very domain we serve. The table
fitted from it (`fit_lexicon(parallel_lines(train questions))`, shipped as
`knowledge/data/en_de_lexicon.json`) lets the LLM grounding check (`knowledge/llm.py`) tell whether
an English reply talks about what the German official lines say. It was first fitted for the
separate OMoS-QA page ranker, which is gone (issue 13: the benchmark measures the product). Only
`train_*` files are read.

Both sides go through the same analysis (`knowledge.text.analyze`), so source terms are the
normalised English words the German pipeline produces and targets are the lemmas BM25 indexes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from knowledge.omosqa.data import Question
from knowledge.text import analyze_many, parse_translations

NULL = "∅"  # the empty English word: generates German words with no English counterpart
ITERATIONS = 6
MIN_COUNT = 2  # an English term seen once gives an unreliable distribution
MIN_PROBABILITY = 0.08
MAX_TRANSLATIONS = 4


@dataclass
class Lexicon:
    """term → [(German lemma, t(german | term)), …], best first; unknown terms map to themselves."""

    table: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    source: str = "en"
    target: str = "de"

    def applies(self, question_language: str, page_language: str) -> bool:
        """Translate only what the table was learned for: source-language questions, target pages."""
        return bool(self.table) and question_language == self.source and page_language == self.target

    def translate(self, terms: Iterable[str]) -> dict[str, float]:
        """Weighted German terms for analysed English terms.

        A term keeps itself with weight 1 when the table has nothing for it, because names, places
        and loan words ("Jobcenter", "Kita", "Bürgergeld") are shared by both languages. A term with
        translations keeps itself too, at the weight of its best translation, for the same reason.
        """
        out: dict[str, float] = {}
        for term in dict.fromkeys(terms):
            options = self.table.get(term)
            if not options:
                out[term] = max(out.get(term, 0.0), 1.0)
                continue
            for german, p in options:
                out[german] = max(out.get(german, 0.0), p)
            out[term] = max(out.get(term, 0.0), options[0][1])
        return out

    def to_json(self) -> dict[str, object]:
        """One line per term in the model file ("hund 0.852 hunde 0.1"), so the file stays readable."""
        table = {k: " ".join(f"{g} {p:g}" for g, p in v) for k, v in sorted(self.table.items())}
        return {"source": self.source, "target": self.target, "table": table}

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> Lexicon:
        table = raw.get("table", {})
        if not isinstance(table, dict):
            raise ValueError("lexicon table must be an object")
        return cls(parse_translations(table), source=str(raw.get("source", "en")), target=str(raw.get("target", "de")))


def parallel_lines(questions: Sequence[Question]) -> list[tuple[str, str]]:
    """(English, German) line pairs: the questions themselves and their contexts, line by line.

    Pairs come from questions present in both languages with the same id and the same line count;
    each page's lines are used once even when several questions share the page.
    """
    by_id: dict[tuple[int, str], Question] = {(q.id, q.language): q for q in questions}
    pairs: list[tuple[str, str]] = []
    seen_pages: set[int] = set()
    for (qid, language), en in by_id.items():
        de = by_id.get((qid, "de"))
        if language != "en" or de is None:
            continue
        pairs.append((en.text, de.text))
        if en.page_id in seen_pages or len(en.sentences) != len(de.sentences):
            continue
        seen_pages.add(en.page_id)
        pairs += [(e, d) for e, d in zip(en.sentences, de.sentences, strict=True) if e.strip() and d.strip()]
    return pairs


def fit_lexicon(pairs: Sequence[tuple[str, str]], iterations: int = ITERATIONS) -> Lexicon:
    """IBM model 1 (EM over word alignments within each line pair), then pruned to a small table."""
    english = analyze_many([e for e, _ in pairs])
    german = analyze_many([d for _, d in pairs])
    corpus = [([NULL, *sorted(set(e))], sorted(set(d))) for e, d in zip(english, german, strict=True) if e and d]
    counts = Counter(t for e, _ in corpus for t in e)
    # t(g | e), started uniform over co-occurring German words
    t: dict[str, dict[str, float]] = defaultdict(dict)
    for e_terms, d_terms in corpus:
        for e in e_terms:
            row = t[e]
            for d in d_terms:
                row[d] = 1.0
    for row in t.values():
        total = float(len(row))
        for d in row:
            row[d] = 1.0 / total
    for _ in range(iterations):
        expected: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for e_terms, d_terms in corpus:
            # each German word is generated by one English word (or by nothing): E-step per German word
            for d in d_terms:
                z = sum(t[e].get(d, 0.0) for e in e_terms)
                for e in e_terms:
                    expected[e][d] += t[e].get(d, 0.0) / z
        for e, row in expected.items():
            total = sum(row.values())
            t[e] = {d: c / total for d, c in row.items()}
    table: dict[str, list[tuple[str, float]]] = {}
    for e, row in t.items():
        if e == NULL or counts[e] < MIN_COUNT:
            continue
        best = sorted(((d, p) for d, p in row.items() if p >= MIN_PROBABILITY), key=lambda x: -x[1])
        if best:
            table[e] = [(d, round(p, 3)) for d, p in best[:MAX_TRANSLATIONS]]
    return Lexicon(table)
