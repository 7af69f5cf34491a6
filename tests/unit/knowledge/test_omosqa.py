"""OMoS-QA through the product: metrics by hand, a two-page city ingested through the real Integreat
importer into a real temporary index and asked through `Answerer`, the line-weight training on it,
and a slice of the real data (skipped when ../shared/corpus is absent).

No stand-ins: pages are HTML exports read by `knowledge/importers/integreat.py`, vectors come from
the configured embedder, answers from `Answerer`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.settings import PROJECT_ROOT, Settings
from knowledge.extraction import FEATURES, HAND_SET, LineWeights, service_lines
from knowledge.importers import load_path
from knowledge.models import Answer
from knowledge.omosqa.data import Page, Question, load_pages, load_questions, parse_answers
from knowledge.omosqa.lexicon import Lexicon, fit_lexicon, parallel_lines
from knowledge.omosqa.metrics import extraction_scores, percentile, question_scores, retrieval_scores
from knowledge.omosqa.product import (
    answer_lines,
    evaluate_product,
    normalise,
    product_index,
    service_id,
    write_exports,
)
from knowledge.omosqa.training import (
    MIN_SCORES,
    RELATIVE_KEEPS,
    examples,
    fit,
    hand_set_thresholds,
    line_indices,
    objective,
    rule_scores,
)
from wording.texts import NOT_COVERED_DE

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


# --- a two-page city through the Integreat importer and the Answerer ---------------------------------

DOG = (
    "Hundesteuer",
    "Wer in der Gemeinde einen Hund hält, muss Hundesteuer zahlen.",
    "Anmeldung",
    "Melden Sie Ihren Hund innerhalb von zwei Wochen bei der Stadtkasse an.",
    "Die Hundesteuer kostet für den ersten Hund 90 Euro im Jahr.",
    "• Für Blindenführhunde müssen Sie keine Hundesteuer bezahlen.",
    "Kontakt:   Stadtkasse,  Rathausplatz 1",
)
KITA = (
    "Kindergarten",
    "Kinder ab drei Jahren haben einen Anspruch auf einen Platz im Kindergarten.",
    "Den Platz beantragen Sie über das Online-Portal der Stadt.",
    "Der Kindergarten ist von 7 bis 17 Uhr geöffnet.",
    "Geschwisterkinder bekommen bei der Vergabe Vorrang.",
)
PAGES = [Page(11, "testkreis", "de", DOG[0], DOG), Page(12, "testkreis", "de", KITA[0], KITA)]


def _ask(qid: int, text: str, page: Page, answers: set[int]) -> Question:
    return Question(qid, text, page.sentences, frozenset(answers), page.page_id, "de", page.city)


QUESTIONS = [
    _ask(1, "Was kostet die Hundesteuer für den ersten Hund?", PAGES[0], {4}),
    _ask(2, "Bis wann muss ich meinen Hund anmelden?", PAGES[0], {3}),
    _ask(3, "Ab welchem Alter hat mein Kind Anspruch auf einen Kindergartenplatz?", PAGES[1], {1}),
    _ask(4, "Wann hat der Kindergarten geöffnet?", PAGES[1], {3}),
    _ask(5, "Wie hoch ist die Hundesteuer für einen Blindenführhund?", PAGES[0], {5}),
    _ask(6, "Gibt es im Kindergarten vegetarisches Mittagessen?", PAGES[1], set()),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("omosqa-base"))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("omosqa-cache")


@pytest.fixture(scope="module")
def answerer(settings: Settings, cache_dir: Path):
    with product_index(PAGES, cache_dir, settings, HAND_SET) as answerer:
        yield answerer


def test_pages_become_an_integreat_export_the_importer_reads_line_for_line(tmp_path: Path):
    written = write_exports(PAGES, tmp_path)
    assert [p.name for p in written] == ["testkreis_de.json"]
    result = load_path(tmp_path)
    assert not result.failures
    services = {s.id: s for s in result.services}
    assert set(services) == {"integreat-testkreis-11", "integreat-testkreis-12"}
    dog = services[service_id(PAGES[0])]
    assert dog.title == "Hundesteuer"
    lines = [line.text for line in service_lines(dog)]
    # one line per context line after the title, cleaned the importer's way (bullet glyph, spaces)
    assert [normalise(t) for t in lines] == [normalise(t) for t in DOG[1:]]
    assert "- Für Blindenführhunde müssen Sie keine Hundesteuer bezahlen." in lines
    assert line_indices(service_lines(dog), DOG) == [1, 2, 3, 4, 5, 6]


def test_line_indices_align_repeated_lines_in_order(tmp_path: Path):
    service_like = [Page(1, "x", "de", "T", ("T", "Hinweis", "A.", "Hinweis", "B."))]
    service = load_path(write_exports(service_like, tmp_path)[0]).services[0]
    assert line_indices(service_lines(service), service_like[0].sentences) == [1, 2, 3, 4]


@pytest.mark.slow  # ingests its own index
def test_answer_lines_maps_what_a_citizen_reads_back_to_context_indices(answerer):
    answer = answerer.answer_service(service_id(PAGES[0]), QUESTIONS[0].text)
    found = answer_lines(answer, DOG)
    assert 4 in found.indices, answer.text  # the 90-Euro line
    assert 0 not in found.indices  # the title is the frame, not an answer sentence
    assert not found.unmapped


def test_abstentions_and_not_covered_answers_map_to_no_lines():
    assert answer_lines(Answer(text="Dazu finde ich nichts.", abstained=True), DOG).indices == []
    text = f"Hundesteuer\n\n{NOT_COVERED_DE}\n\n{DOG[1]}\n\nQuelle: https://x (Stand: ohne Datum)"
    assert answer_lines(Answer(text=text, service_title="Hundesteuer"), DOG).indices == []
    shown = f"Hundesteuer\n\nÜberblick:\n{DOG[4]}\n\nQuelle: https://x (Stand: ohne Datum)"
    assert answer_lines(Answer(text=shown, service_title="Hundesteuer"), DOG).indices == [4]


@pytest.mark.slow  # ingests its own index
def test_evaluation_through_the_product_scores_both_modes(settings: Settings, cache_dir: Path):
    result = evaluate_product(PAGES, QUESTIONS, settings, cache_dir, pooled=True, weights=HAND_SET, log=lambda _: None)
    per_city = result["per_city"]
    assert per_city["n"] == len(QUESTIONS)
    assert per_city["gold_page"]["recall"] > 0.5, per_city  # the product finds most asked lines on the right page
    assert per_city["end_to_end"]["page_hit@1_answerable"] == 1.0  # two distinct pages: no excuse
    assert per_city["unmapped_answer_lines"] == 0
    assert result["dropped_context_lines"] == 0
    assert set(result["cities"]) == {"testkreis"}
    assert result["pooled"]["n"] == len(QUESTIONS)


@pytest.mark.slow  # ingests its own index
def test_a_wrong_page_counts_as_a_wrong_answer_not_an_abstention(settings: Settings, cache_dir: Path):
    # the dog question, filed under the kindergarten page: the product answers from the dog page
    misfiled = [_ask(7, QUESTIONS[0].text, PAGES[1], {1})]
    result = evaluate_product(PAGES, misfiled, settings, cache_dir, pooled=False, weights=HAND_SET, log=lambda _: None)
    end_to_end = result["per_city"]["end_to_end"]
    assert end_to_end["page_hit@1_answerable"] == 0.0
    assert end_to_end["precision"] == 0.0 and end_to_end["recall"] == 0.0


def test_training_learns_weights_the_product_loads_and_uses(answerer, tmp_path: Path):
    items = examples(answerer, QUESTIONS * 3, PAGES)
    assert len(items) == len(QUESTIONS) * 3
    assert items[0].features.shape == (len(DOG) - 1, len(FEATURES))
    assert items[0].labels.tolist() == [0, 0, 0, 1, 0, 0]
    weights = fit(items, log=lambda _: None)
    assert weights.learned and set(weights.coefficients) == set(FEATURES) - {"position", "length"}
    assert weights.coefficients["dense"] > 0 or weights.coefficients["lexical"] > 0
    path = tmp_path / "line_scorer.json"
    path.write_text(json.dumps(weights.to_json()))
    loaded = LineWeights.load(path)
    assert loaded == weights
    probabilities = loaded.scores(items[0].features)
    assert np.all((probabilities > 0) & (probabilities < 1))
    assert int(np.argmax(probabilities)) == 3  # the gold line of the question it was fitted on


def test_unreadable_line_weights_fall_back_to_the_hand_set_ones(tmp_path: Path):
    assert LineWeights.load(tmp_path / "missing.json") is HAND_SET
    broken = tmp_path / "broken.json"
    broken.write_text('{"coefficients": {"nonsense": 1.0}, "intercept": 0, "min_score": 0.3, "relative_keep": 0.5}')
    assert LineWeights.load(broken) is HAND_SET


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


def test_real_pages_import_and_map_back_exactly(corpus: Path, tmp_path: Path):
    """Every line the importer keeps of the real pages maps back to its context index, in order."""
    pages = load_pages(corpus / "pages_de.jsonl")[:120]
    write_exports(pages, tmp_path)
    services = {s.id: s for s in load_path(tmp_path).services}
    unmatched = 0
    for page in pages:
        service = services.get(service_id(page))
        assert service is not None, page.page_id
        indices = line_indices(service_lines(service), page.sentences)
        unmatched += sum(1 for i in indices if i is None)
        assert [i for i in indices if i is not None] == sorted(i for i in indices if i is not None)
    assert unmatched == 0


def test_hand_set_thresholds_are_chosen_from_the_grid_on_train_examples(answerer):
    items = examples(answerer, QUESTIONS, PAGES)
    min_score, keep = hand_set_thresholds(items, log=lambda _: None)
    assert min_score in MIN_SCORES and keep in RELATIVE_KEEPS
    # the chosen rule is at least as good on these examples as the shipped one
    probabilities = [HAND_SET.scores(item.features) for item in items]
    chosen = objective(rule_scores(items, probabilities, LineWeights(min_score=min_score, relative_keep=keep)))
    assert chosen >= objective(rule_scores(items, probabilities, HAND_SET))


def test_a_sentence_split_from_a_context_line_maps_back_to_that_line():
    sentence = "Der Bescheid kommt per Post und nennt die Höhe der Steuer für das ganze Jahr."
    context = (DOG[0], f"{DOG[1]} {sentence}", *DOG[2:])
    shown = f"Hundesteuer\n\nÜberblick:\n{sentence}\n\nQuelle: https://x"
    found = answer_lines(Answer(text=shown, service_title="Hundesteuer"), context)
    assert found.indices == [1] and not found.unmapped
