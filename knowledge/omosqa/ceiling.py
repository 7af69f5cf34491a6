"""Why page hit@1 among all pages has a ceiling: the same page exists in several cities.

The three municipalities publish many pages from a shared template ("Kindergarten", "Jobcenter",
"Deutschkurse"), and the generated questions rarely name the city. A question about such a page
can then be answered equally by its twin in another city, and no ranker can tell which city's page
the question was generated from. This module measures that, without any model:

- a page's *twins* are pages of other cities with the same normalised title, or whose lemma sets
  are nearly identical (Jaccard >= `TWIN_JACCARD`);
- a twin is *indistinguishable* for a question when none of the question's analysed terms occurs
  in the gold page but not in the twin (so the words of the question cannot prefer the gold page);
- with k indistinguishable twins, a ranker that is perfect otherwise still picks the gold page
  with probability at most 1/(k+1): the mean of that over questions is an upper bound of hit@1.

The deployment case does not suffer from this (each city runs its own bot over its own pages),
which `cli.evaluate` reports separately as `retrieval_same_city`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from knowledge.omosqa.data import Page, Question
from knowledge.text import analyze

TWIN_JACCARD = 0.8
_SPACE = re.compile(r"\s+")


def normalised_title(title: str) -> str:
    """Case, accents and spacing folded, so "Kindergärten " and "kindergärten" are one title."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _SPACE.sub(" ", folded).strip()


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def page_terms(sentence_terms: Sequence[Sequence[Sequence[str]]]) -> list[frozenset[str]]:
    """All analysed terms of each page (the index's per-line terms, flattened)."""
    return [frozenset(t for line in page for t in line) for page in sentence_terms]


def twins(pages: Sequence[Page], terms: Sequence[frozenset[str]], position: int) -> list[int]:
    """Positions of the other-city pages that duplicate the page at `position`."""
    page = pages[position]
    title = normalised_title(page.title)
    return [
        j
        for j, other in enumerate(pages)
        if j != position
        and other.city != page.city
        and (normalised_title(other.title) == title or jaccard(terms[position], terms[j]) >= TWIN_JACCARD)
    ]


def ceiling(
    pages: Sequence[Page], sentence_terms: Sequence[Sequence[Sequence[str]]], questions: Sequence[Question]
) -> dict[str, float]:
    """Counts of twin-affected questions and the hit@1 upper bound among all pages.

    Only the questions' text and page ids are used (no answers, no model), so this is the same for
    every retriever.
    """
    terms = page_terms(sentence_terms)
    position = {p.page_id: i for i, p in enumerate(pages)}
    with_twin = indistinguishable = 0
    bound = 0.0
    for q in questions:
        gold = position.get(q.page_id)
        if gold is None:
            continue
        found = twins(pages, terms, gold)
        with_twin += bool(found)
        asked = set(analyze(q.text))
        blind = [j for j in found if not (asked & (terms[gold] - terms[j]))]
        indistinguishable += bool(blind)
        bound += 1.0 / (1 + len(blind))
    n = max(len(questions), 1)
    return {
        "questions_with_other_city_twin": with_twin / n,
        "questions_with_indistinguishable_twin": indistinguishable / n,
        "hit@1_upper_bound_all_pages": bound / n,
    }
