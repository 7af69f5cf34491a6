"""Answer lines chosen from a service's whole text, on Munich's real catalogue (the default content).

The questions are the kinds the issue reported as failing ("the 46 Euro line is dropped", "Zu Fristen
steht nichts" although the text says "ein Jahr gültig"); each is checked against the official text.
"""

from __future__ import annotations

import re

import pytest

from knowledge.answering import Answerer, _overview_text
from knowledge.extraction import (
    HAND_SET,
    MAX_CHARS,
    Line,
    Selection,
    _contains,
    _has_duration,
    _kind_match,
    choose,
    render,
    sentences,
    service_lines,
)
from knowledge.models import Section, Service
from knowledge.sections import requested_sections
from wording.texts import (
    NOT_COVERED_DE,
    NOT_FOUND_DE,
    UNSURE_ALSO_DE,
    UNSURE_ALSO_EN,
    UNSURE_HELP_DE,
    UNSURE_HELP_EN,
    UNSURE_LEAD_DE,
    UNSURE_LEAD_EN,
    UNSURE_OTHERS_DE,
    UNSURE_OTHERS_EN,
)


def _page(sections: dict[Section, str], title: str = "Seite") -> Service:
    """A made-up service of just these sections, to test how lines are read."""
    return Service(id="x", title=title, source_url="https://example.org/x", sections=sections)


def _official(service: Service) -> set[str]:
    return {line.strip() for text in service.sections.values() for line in text.splitlines() if line.strip()}


def _body(text: str, title: str) -> list[str]:
    """The quoted lines of an answer: not the title, labels, notes, the source line or a guess's frame.

    A guess may quote its runner-up after `UNSURE_ALSO_*`: those lines are the runner-up's, not cut here.
    """
    for also in (UNSURE_ALSO_DE, UNSURE_ALSO_EN):
        text = text.split(also)[0]
    frame = (UNSURE_LEAD_DE, UNSURE_LEAD_EN, UNSURE_HELP_DE, UNSURE_HELP_EN)
    others = (UNSURE_OTHERS_DE.split("{")[0], UNSURE_OTHERS_EN.split("{")[0])
    lines = [line for line in text.splitlines() if line.strip() and line != title and line not in frame]
    return [
        line for line in lines if not line.endswith(":") and not line.startswith(("Quelle:", "The official", *others))
    ]


@pytest.mark.parametrize(
    ("question", "service", "fact"),
    [
        ("Was kostet der Perso für Erwachsene über 24?", "dldb-1063441", "über 24 Jahren: 46 Euro"),
        ("Wie lange ist der internationale Fahrzeugschein gültig?", "dldb-10115737", "ein Jahr gültig"),
        ("Wo kriege ich ein Überführungskennzeichen?", "dldb-1064323", "Eichstätter Straße 2"),
        ("Ausweis verloren, was tun?", "dldb-1076889", "116 116"),
        ("How much is a passport for an adult?", "dldb-1063453", "70 Euro"),
    ],
)
def test_the_line_asked_for_is_in_the_answer(munich_answerer, question: str, service: str, fact: str):
    answer = munich_answerer.answer(question)
    assert not answer.abstained
    assert answer.service_id == service
    assert fact in answer.text
    assert NOT_COVERED_DE not in answer.text  # the text does say it: never claim it does not
    official = _official(munich_answerer.index.services[service])
    title = munich_answerer.index.services[service].title
    assert all(line in official for line in _body(answer.text, title)), answer.text
    assert len(answer.text) <= 900


def test_fee_lines_come_with_their_labels_in_source_order(munich_answerer):
    text = munich_answerer.answer("Was kostet der Personalausweis?").text
    assert text.index("unter 24 Jahren: 27,60 Euro") < text.index("über 24 Jahren: 46 Euro")
    assert "Gebühren:" in text


def test_a_point_the_whole_service_does_not_cover_is_said_honestly(munich_answerer):
    service = munich_answerer.index.services["dldb-1063441"]
    answer = munich_answerer.answer_service(service.id, "Gibt es dort einen Parkplatz für Fahrräder?")
    assert NOT_COVERED_DE in answer.text
    assert service.summary in answer.text  # then the overview and the link
    assert answer.sources and answer.sources[0].url == service.source_url


def test_bullets_keep_the_list_heading_they_belong_to():
    service = _page(
        {Section.UEBERBLICK: "Sie brauchen:\n- einen Ausweis\n- ein Foto\nDanach geht es weiter."}, title="Beispiel"
    )
    lines = service_lines(service)
    assert [line.heading for line in lines] == ["", "Sie brauchen:", "Sie brauchen:", ""]
    assert isinstance(lines[1], Line) and lines[1].section is Section.UEBERBLICK


def test_no_line_of_markup_or_a_placeholder_reaches_an_answer(munich_answerer):
    for question in ("Wo kann ich einen Termin für den Reisepass buchen?", "Gewerbe anmelden online"):
        text = munich_answerer.answer(question).text
        assert not re.search(r"<\s*/?\s*[a-zA-Z]|\{serviceId\}|\{locationId\}", text)


@pytest.mark.parametrize(
    ("question", "service", "fact"),
    [
        # DLDB fee lists are plain lines: a short line with an amount is a fact, not a heading
        ("Was kostet der Bewohnerparkausweis in der Altstadt für 12 Monate?", "dldb-1075031", "102 Euro"),
        # ... and an amount keeps the label of its list ("Online-Gebühr: …") when it is shown
        ("Was kostet es, ein neues Auto online zuzulassen?", "dldb-1063425", "20,50 Euro"),
    ],
)
def test_an_unbulleted_fee_line_is_found_with_its_label(munich_answerer, question: str, service: str, fact: str):
    answer = munich_answerer.answer_service(service, question)
    assert fact in answer.text
    if fact == "20,50 Euro":
        assert answer.text.index("Online-Gebühr") < answer.text.index(fact)


def test_a_long_overview_is_cut_at_a_line_and_says_so(munich_answerer):
    service = "dldb-1080483"  # its summary is a 1,200-character list of topics
    title = munich_answerer.index.services[service].title
    answer = munich_answerer.answer_service(service, title)  # only the name: the overview is the answer
    assert len(answer.text) <= 900
    assert "…" in answer.text and munich_answerer.index.services[service].source_url in answer.text


def test_an_overview_says_what_the_service_costs_when_that_is_short(munich_answerer):
    short = munich_answerer.index.services["dldb-1063435"]  # Gewerbe-Abmeldung: "35 Euro"
    answer = munich_answerer.answer_service(short.id, short.title)  # only the name: the overview
    assert "Gebühren:\n35 Euro" in answer.text and answer.text.index("Gebühren:") > answer.text.index(short.title)
    assert Section.GEBUEHREN in answer.sections  # cited, and no "Gebühren" button shows it again
    fee_only = munich_answerer.index.services["dldb-10483724"]  # its overview is its fee section
    shortest = munich_answerer.answer_service(fee_only.id, fee_only.title, quote_chars=120).text
    assert shortest.count("Gebühren:") == 1  # a lead cut short is not followed by the whole fee again
    long = munich_answerer.index.services["dldb-1063424"]  # Umschreibung innerhalb Münchens: a fee list
    assert len(long.sections[Section.GEBUEHREN]) > 160
    assert "Gebühren:" not in munich_answerer.answer_service(long.id, long.title).text  # a button holds it


def test_a_long_paragraph_is_split_into_sentences_but_not_at_abbreviations_or_ordinals():
    paragraph = (
        "Die Klassen werden seit dem 1. Januar 1999 nur noch befristet erteilt, z. B. für Lkw. "
        "Die Fahrerlaubnis wird längstens für fünf Jahre verlängert. „Eine Prüfung ist nicht nötig.“ "
        "Mit der Verlängerung (vgl. Abs. 2) wird ein neuer Führerschein ausgestellt."
    )
    assert sentences(paragraph) == [
        "Die Klassen werden seit dem 1. Januar 1999 nur noch befristet erteilt, z. B. für Lkw.",
        "Die Fahrerlaubnis wird längstens für fünf Jahre verlängert.",
        "„Eine Prüfung ist nicht nötig.“",
        "Mit der Verlängerung (vgl. Abs. 2) wird ein neuer Führerschein ausgestellt.",
    ]
    assert sentences("Kurz. Und knapp.") == ["Kurz. Und knapp."]  # short paragraphs stay whole
    assert sentences(
        "Bitte bringen Sie alle Unterlagen mit. Ggf. brauchen wir weitere Nachweise, fragen Sie bzgl. Ihrer Rente "
        "nach. Die Frist läuft bis zum 4. März 2027. Eine neue Frist beginnt danach."
    ) == [
        "Bitte bringen Sie alle Unterlagen mit.",
        "Ggf. brauchen wir weitere Nachweise, fragen Sie bzgl. Ihrer Rente nach.",
        "Die Frist läuft bis zum 4. März 2027.",
        "Eine neue Frist beginnt danach.",
    ]
    service = _page({Section.UEBERBLICK: paragraph}, title="Beispiel")
    lines = service_lines(service)
    assert [line.paragraph for line in lines] == [0, 0, 0, 0]
    assert [line.position for line in lines] == [0, 1, 2, 3]


def test_an_age_is_no_duration():
    assert not _has_duration("über 24 Jahren: 46 Euro")
    assert not _has_duration("ab 16 Jahren")
    assert not _has_duration("Das Kind ist 12 Jahre alt.")
    assert _has_duration("Die Bearbeitung dauert drei bis sechs Arbeitstage.")
    assert _has_duration("innerhalb von 90 Tagen")
    assert _has_duration("nicht innerhalb eines Jahres abgeholt")
    assert _has_duration("über 4 Wochen") and _has_duration("ab 6 Monaten vor Ablauf")  # only years make an age
    assert requested_sections("Ab wie vielen Jahren braucht man einen Ausweis?") == []  # asks an age
    assert requested_sections("Nach wie vielen Jahren kann ich mich einbürgern lassen?") == [Section.FRISTEN]


def test_a_date_written_out_answers_when_not_how_long():
    """ "Bis wann ist die Anmeldung möglich?" is answered by "bis 11. März 2026"; "Wie lange dauert
    es?" is not answered by the day a law took effect. A class ("3. Klasse") is no date."""
    deadline = Line(0, Section.UEBERBLICK, "Sie müssen sich bis 11. März 2026 anmelden.", "")
    in_force = Line(1, Section.UEBERBLICK, "Das Gesetz ist am 1. November 2024 in Kraft getreten.", "")
    school = Line(2, Section.UEBERBLICK, "Ihr Kind kommt in die 3. Klasse.", "")
    when = "Bis wann ist die Anmeldung möglich?"
    assert _kind_match(deadline, requested_sections(when), when) == 1.0
    assert _kind_match(school, requested_sections(when), when) == 0
    how_long = "Wie lange dauert die Änderung?"
    assert _kind_match(in_force, requested_sections(how_long), how_long) == 0


def test_that_something_costs_nothing_is_the_fee_fact():
    question = "Kostet die Teilnahme am Kurs etwas?"
    asked = requested_sections(question)
    assert asked == [Section.GEBUEHREN]
    for text in ("Mitmachen kostet kein Geld.", "Die Teilnahme ist gratis.", "Es fallen keine Gebühren an."):
        assert _kind_match(Line(0, Section.UEBERBLICK, text, ""), asked, question) == 1.0, text
    # "kostet" speaks of paying, like "Kosten" (which it does not contain), but states no amount
    assert _kind_match(Line(0, Section.UEBERBLICK, "Der Kurs kostet etwas mehr.", ""), asked, question) == 0.3
    assert _kind_match(Line(0, Section.UEBERBLICK, "Der Kurs findet dienstags statt.", ""), asked, question) == 0
    not_free = Line(0, Section.UEBERBLICK, "Nicht umsonst ist der Kurs beliebt.", "")
    assert _kind_match(not_free, asked, question) == 0  # "umsonst" here means "not without reason"


def test_a_question_for_the_day_finds_the_line_with_the_weekday():
    line = Line(0, Section.UEBERBLICK, "Die Besichtigung findet dienstags statt.", "")
    assert _kind_match(line, [], "An welchem Tag kann man die Räder anschauen?") > 0
    assert _kind_match(line, [], "Which day can I look at the bikes?") > 0
    assert _kind_match(line, [], "Wer darf die Räder anschauen?") == 0


def test_what_to_bring_is_found_in_the_split_form_of_the_verb():
    line = Line(0, Section.UEBERBLICK, "Zur Abholung bringen Sie bitte die Benachrichtigung mit.", "")
    assert _kind_match(line, [Section.UNTERLAGEN], "Was muss ich mitbringen?") > 0
    other = Line(1, Section.UEBERBLICK, "Sie können ohne Termin vorbeikommen.", "")
    assert _kind_match(other, [Section.UNTERLAGEN], "Was muss ich mitbringen?") == 0


def test_a_compound_counts_as_its_head_but_a_prefixed_verb_does_not():
    assert _contains(frozenset({"rechtsanwalt"}), "anwalt")
    assert not _contains(frozenset({"zulassen"}), "lassen")
    assert not _contains(frozenset({"fahrzeughalter"}), "alter")  # "fahrzeugh" is no word
    assert not _contains(frozenset({"schalter"}), "alter")
    assert not _contains(frozenset({"reisepass"}), "pass")  # too short to be sure


def test_the_sentence_with_the_duration_is_shown_from_a_long_paragraph(munich_answerer):
    answer = munich_answerer.answer_service("dldb-1064361", "Für wie viele Jahre wird Klasse D verlängert?")
    assert "fünf Jahre" in answer.text
    assert NOT_COVERED_DE not in answer.text


def test_a_form_link_does_not_answer_a_question_that_asks_for_no_form(munich_answerer):
    answer = munich_answerer.answer_service(
        "dldb-1064333", "Für welchen Zeitraum kann ich ein Saisonkennzeichen bekommen?"
    )
    assert "zwischen zwei und elf Monaten" in answer.text
    assert "Formulare:" not in answer.text


def test_a_guess_quotes_the_runner_ups_own_answer_with_its_source(munich_answerer):
    """Unsure between near-duplicates, the guess shows what each of the two likeliest says, each under its name."""
    unsure = Answerer(munich_answerer.index)
    unsure.threshold = 1.01  # every answer is a guess
    answer = unsure.answer("Was kostet das Beglaubigen von Dokumenten?")  # up to 5 or up to 20: close
    assert answer.is_guess and answer.text.startswith(UNSURE_LEAD_DE)
    head, _, tail = answer.text.partition(UNSURE_ALSO_DE)
    assert tail, answer.text
    runner_up = munich_answerer.index.services[answer.alternatives[0]]
    top = munich_answerer.index.services[answer.service_id]
    assert runner_up.title in tail and runner_up.source_url in tail and top.source_url in head
    # cited with the section its lines come from, as the likeliest service's are
    assert (runner_up.source_url, Section.GEBUEHREN) in [(source.url, source.section) for source in answer.sources]
    quoted = [line for line in _body(tail, runner_up.title) if line != UNSURE_HELP_DE]
    assert quoted and all(line in _official(runner_up) for line in quoted), tail
    assert all(line in _official(top) for line in _body(head, top.title)), head
    assert len(answer.text) <= 900


def test_of_two_close_runners_up_a_guess_quotes_the_one_whose_lines_answer(munich_answerer):
    from dataclasses import replace

    from knowledge.retrieval import ServiceHit

    question = "Bis wann muss ich mich für einen Krippenplatz anmelden?"
    assessment = munich_answerer.assess(question)
    top, other, answering = "dldb-10100253", "dldb-1063731", "dldb-10113239"  # Familiennachzug, Kirchenaustritt
    hits = [ServiceHit(top, 1.0), ServiceHit(other, 0.95), ServiceHit(answering, 0.9)]
    close = replace(assessment, retrieval=replace(assessment.retrieval, hits=hits))
    assert munich_answerer._runner_up(question, close) == answering  # Elternberatung: "bis 11. März 2026 anmelden"
    hits[2] = ServiceHit(answering, 0.5)  # far weaker than the likeliest: not quoted, however well it answers
    assert munich_answerer._runner_up(question, close) == other


def test_a_guess_names_a_far_weaker_runner_up_without_quoting_it(munich_answerer, monkeypatch):
    import knowledge.answering

    monkeypatch.setattr(knowledge.answering, "QUOTE_RUNNER_UP_RATIO", 1.01)  # no runner-up is close enough
    unsure = Answerer(munich_answerer.index)
    unsure.threshold = 1.01
    answer = unsure.answer("Was kostet ein Bewohnerparkausweis?")
    runner_up = munich_answerer.index.services[answer.alternatives[0]]
    assert UNSURE_ALSO_DE not in answer.text and f"„{runner_up.title}“" in answer.text
    assert runner_up.source_url not in [source.url for source in answer.sources]


@pytest.mark.parametrize(
    ("service", "question"),
    [
        ("dldb-1063475", "Meine Tochter zieht in ihre erste eigene Wohnung, wie geht das?"),
        ("dldb-1064271", "Kennzeichen abgebrochen und weg"),
    ],
)
def test_a_situation_the_service_is_about_never_gets_a_claim_of_absence(munich_answerer, service: str, question: str):
    """The question's words are the service's: when no line scores high enough, that may be our failure,
    not a gap in the text. The bot then says what it did not find and shows the overview, never "nothing
    on this"; when a line does score, it is quoted from the service."""
    answer = munich_answerer.answer_service(service, question)
    assert NOT_COVERED_DE not in answer.text
    assert answer.sources and answer.sources[0].url in answer.text
    if NOT_FOUND_DE not in answer.text:  # lines of the service answer it: every one is quoted as written
        official = "\n".join(munich_answerer.index.services[service].sections.values())
        quoted = _body(answer.text, answer.service_title or "")
        assert quoted and all(line in official for line in quoted)


def test_an_overview_of_a_fee_only_service_says_what_the_amount_is(munich_answerer):
    service = munich_answerer.index.services["dldb-1064271"]
    assert not service.summary and "Gebühren:\nab 24,80 Euro" in _overview_text(service)


def test_a_sentence_that_points_back_comes_with_the_sentence_before():
    paragraph = (
        "Das Fahrzeug darf nur in der Zeit fahren, die auf dem Kennzeichen steht, und nur dann auf der Straße "
        "stehen. Dieser Zeitraum kann zwischen zwei und elf Monaten betragen. Die Gebühr zahlen Sie vor Ort."
    )
    service = _page({Section.FRISTEN: paragraph}, title="Saison")
    lines = service_lines(service)
    assert len(lines) == 3
    selection = choose(lines, [0.1, 1.0, 0.2], [Section.FRISTEN], HAND_SET)
    assert [line.position for line in selection.lines] == [0, 1]  # "Dieser Zeitraum" needs its antecedent
    selection = choose(lines, [0.1, 0.2, 1.0], [], HAND_SET)
    assert [line.position for line in selection.lines] == [2]  # "Die Gebühr …" stands on its own


def _lines_of(*texts: str, section: Section = Section.ABLAUF) -> list[Line]:
    """One line per text, each its own paragraph, as a web page's `<p>`s arrive.

    By default in a catalogue section, where the chosen lines are shown with what they need and no
    more; a page with only an overview grows them into a passage (`_as_page_passage`).
    """
    service = _page({section: "\n".join(texts)}, title="Seite")
    lines = service_lines(service)
    assert [line.text for line in lines] == list(texts)
    return lines


def _chosen(lines: list[Line], best: int, asked: list[Section] | None = None) -> list[int]:
    scores = [1.0 if i == best else 0.05 for i in range(len(lines))]
    return [line.position for line in choose(lines, scores, asked or [Section.FRISTEN], HAND_SET).lines]


def test_a_sentence_broken_over_two_lines_is_shown_whole():
    lines = _lines_of(
        "Die Wartezeiten für einen Termin betragen ca.", "4 Wochen.", "Du musst geduldig sein.", "Ende der Seite."
    )
    assert _chosen(lines, 0) == [0, 1]  # "ca." ends no sentence
    lines = _lines_of("Fachschulen sind für Personen, die", "eine Ausbildung abgeschlossen haben.", "Sonst nichts.")
    assert _chosen(lines, 0) == [0, 1]  # a relative clause goes on


def test_a_line_that_opens_a_list_comes_with_its_items_and_a_question_with_its_answer():
    lines = _lines_of(
        "Zum Termin bringen Sie folgende Unterlagen mit:",
        "Reisepass",
        "Geburtsurkunde",
        "Die Adresse steht unten.",
        "Noch ein Satz.",
    )
    assert _chosen(lines, 0) == [0, 1, 2]  # the list, not the sentence after it
    lines = _lines_of("Sie möchten den Kurs freiwillig besuchen?", "Dann brauchen Sie eine Genehmigung.", "Anderes.")
    assert _chosen(lines, 0) == [0, 1]
    assert _chosen(lines, 1) == [0, 1]  # "Dann …" needs its condition


def test_a_fact_line_and_a_full_sentence_stand_alone():
    lines = _lines_of("Gebühr 13 Euro", "Wenn Sie den Antrag per Post stellen, überweisen Sie vorab.", "Mehr.")
    assert _chosen(lines, 0, [Section.GEBUEHREN]) == [0]  # no full stop, but a fact, not a broken sentence
    lines = _lines_of("Der Ausweis gilt zehn Jahre.", "Sie bekommen ihn nach drei Wochen.", "Mehr.")
    assert _chosen(lines, 0) == [0]


def test_two_chosen_lines_close_together_are_shown_as_one_passage_within_the_budget():
    lines = _lines_of("Erster Satz.", "Der Ausweis gilt zehn Jahre.", "Ein Satz dazwischen.", "Er kostet 37 Euro.")
    scores = [0.05, 1.0, 0.05, 0.9]
    selection = choose(lines, scores, [Section.FRISTEN], HAND_SET)
    assert [line.position for line in selection.lines] == [1, 2, 3]
    long_gap = "Ein sehr langer Satz dazwischen, " * 30 + "der nicht in das Budget passt."
    lines = _lines_of("Erster Satz.", "Der Ausweis gilt zehn Jahre.", long_gap, "Er kostet 37 Euro.")
    selection = choose(lines, scores, [Section.FRISTEN], HAND_SET, max_chars=200)
    assert [line.position for line in selection.lines] == [1]  # "Er kostet …" without its antecedent: dropped


def test_a_heading_chosen_for_itself_is_shown_once_above_its_items():
    service = _page(
        {Section.GEBUEHREN: "Online-Gebühr: Zahlung mit Karte\nNeufahrzeug: ab 20,50 Euro\nTageszulassung: 25 Euro"},
        title="Gebühren",
    )
    lines = service_lines(service)
    text = render(choose(lines, [0.9, 1.0, 0.95], [Section.GEBUEHREN], HAND_SET))
    assert text.count("Online-Gebühr: Zahlung mit Karte") == 1
    assert text.index("Online-Gebühr") < text.index("20,50 Euro") < text.index("25 Euro")


def _fee_lines() -> list[Line]:
    service = _page(
        {
            Section.GEBUEHREN: "Reisepass\nErwachsene:\n- 70 Euro\nKinder:\n- 37,50 Euro\n"
            "Personalausweis\nErwachsene:\n- 37 Euro\nKinder:\n- 22,80 Euro"
        },
        title="Gebühren",
    )
    return service_lines(service)


def test_a_fee_is_always_shown_under_its_own_label_even_when_the_label_repeats():
    lines = _fee_lines()
    text = render(
        choose(lines, [0.05, 0.05, 0.9, 0.05, 0.9, 0.05, 0.05, 1.0, 0.05, 0.05], [Section.GEBUEHREN], HAND_SET)
    )
    shown = text.splitlines()
    labels_above = [line for line in shown[: shown.index("- 37 Euro")] if line.endswith(":")]
    assert labels_above[-1] == "Erwachsene:"  # not "Kinder:" of the passport list above
    text = render(Selection(lines, 1.0))
    assert text.split("Personalausweis")[1].count("Erwachsene:") == 1


def test_the_same_heading_in_two_sections_is_shown_in_both():
    service = _page(
        {
            Section.UNTERLAGEN: "Hinweis:\n- Pass mitbringen",
            Section.GEBUEHREN: "Hinweis:\n- nur mit Karte, 10 Euro",
        },
        title="Seite",
    )
    assert render(Selection(service_lines(service), 1.0)).count("Hinweis:") == 2


def test_a_short_line_with_a_number_after_a_bulleted_list_is_no_item_of_it():
    service = _page(
        {
            Section.UEBERBLICK: (
                "Wir beraten Sie zum Beispiel bei:\n- der Suche nach einem Platz\n- der Anmeldung\n"
                "Informationen für Eltern von Schulkindern (6–10 Jahre)\n- Hort\n"
                "Gebühren der Mittagsbetreuung:\nein Kind: 40 Euro\nzwei Kinder: 70 Euro"
            )
        },
        title="Kinderbetreuung",
    )
    lines = service_lines(service)
    heading = next(line for line in lines if line.text.startswith("Informationen für Eltern"))
    assert heading.heading == ""  # the next heading, not a third item under "Wir beraten Sie …"
    hort = next(line for line in lines if line.text == "- Hort")
    assert hort.heading == heading.text  # ... and it heads the bullets that follow it
    # a list that has no bullets at all still takes its short numbered lines (DLDB fee lists)
    assert [line.heading for line in lines if "Kind" in line.text and "Euro" in line.text] == [
        "Gebühren der Mittagsbetreuung:"
    ] * 2
    text = render(Selection([lines[1], heading], 1.0))
    assert text.count("Wir beraten Sie zum Beispiel bei:") == 1


def test_a_heading_chosen_for_itself_is_not_printed_twice_above_a_distant_item():
    lines = service_lines(
        _page({Section.UEBERBLICK: "Aufenthalt für mehr als 90 Tage\n" + "\n".join(f"- Zweck {n}" for n in "ABCDEF")})
    )
    assert lines[0].heads_list and lines[6].heading == lines[0].text
    text = render(Selection([lines[0], lines[6]], 1.0))  # the heading and its sixth item, four lines apart
    assert text.count("Aufenthalt für mehr als 90 Tage") == 1, text


def test_a_sentence_is_shown_with_its_start_and_its_whole_condition():
    lines = _lines_of("Für Kinder unter 12 Jahren ist der Eintritt", "kostenlos.", "Öffnungszeiten siehe unten.")
    assert _chosen(lines, 1, [Section.GEBUEHREN]) == [0, 1]  # never "kostenlos." alone
    lines = _lines_of(
        "Sie sind jünger als 24 Jahre und", "haben noch keinen Pass?", "Dann zahlen Sie 37,50 Euro.", "Sonst 70 Euro."
    )
    assert _chosen(lines, 2, [Section.GEBUEHREN]) == [0, 1, 2]


def test_a_list_comes_whole_or_not_at_all():
    items = [
        f"Nachweis Nummer {n} über die Angaben zur Person"
        for n in ("eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht")
    ]
    lines = _lines_of("Bringen Sie folgende Unterlagen mit:", *items, "Ende.")
    assert _chosen(lines, 0, [Section.UNTERLAGEN]) == list(range(len(items) + 1))
    scores = [1.0] + [0.05] * (len(items) + 1)
    tight = choose(lines, scores, [Section.UNTERLAGEN], HAND_SET, max_chars=60)
    assert [line.position for line in tight.lines] == [0]  # too long for the budget: none rather than some
    lines = _lines_of("Was muss ich mitbringen?", "Folgende Unterlagen:", "- Reisepass", "- Passfoto", "Ende.")
    assert _chosen(lines, 0, [Section.UNTERLAGEN]) == [0, 1, 2, 3]


def test_a_fee_added_to_a_general_answer_comes_with_its_condition():
    lines = _lines_of(
        "Der Kurs findet montags statt.",
        "Es gibt viele Angebote.",
        "Noch mehr Text hier.",
        "Weitere Infos gibt es im Büro.",
        "Sie sind Sozialhilfeempfänger?",
        "Dann kostet der Kurs 5 Euro.",
    )
    chosen = [line.position for line in choose(lines, [1.0] + [0.05] * 5, [], HAND_SET).lines]
    assert 5 not in chosen or 4 in chosen


@pytest.mark.slow  # ingests its own index
def _answerer_over(tmp_path, service: dict[str, object]):
    """An `Answerer` over an index of just `service` (a native content file), ingested for real."""
    import json

    from knowledge.ingest import ingest, load_index
    from tests.conftest import make_settings

    content = tmp_path / "content"
    content.mkdir()
    (content / f"{service['id']}.json").write_text(json.dumps(service, ensure_ascii=False), encoding="utf-8")
    settings = make_settings(tmp_path / "data", content_dir=content)
    ingest(settings, content)
    return Answerer(load_index(settings))


def test_a_hundred_sentence_description_answers_from_the_right_sentence_and_stays_short(tmp_path):
    """Bad input of the issue: one paragraph of 100 sentences, HTML remnants, a question matching nothing."""
    from knowledge.answering import MAX_ANSWER_CHARS

    filler = [f"Der Hinweis Nummer {n} betrifft die allgemeine Bearbeitung im Amt." for n in range(100)]
    filler[73] = "Die Bearbeitung Ihres Antrags auf einen Anwohnerparkausweis dauert etwa zehn Arbeitstage."
    text = " ".join(filler) + " <script>alert(1)</script> &nbsp;"
    service = {
        "id": "lang",
        "title": "Langer Text",
        "summary": "Ein Dienst mit sehr langer Beschreibung.",
        "sections": {"ueberblick": text},
        "source_url": "https://example.org/lang",
    }
    answerer = _answerer_over(tmp_path, service)
    answer = answerer.answer_service("lang", "Wie lange dauert der Anwohnerparkausweis?")
    assert "etwa zehn Arbeitstage" in answer.text
    assert len(answer.text) <= MAX_ANSWER_CHARS and "<script" not in answer.text
    unmatched = answerer.answer_service("lang", "Xylophon Quittengelee?")
    assert len(unmatched.text) <= MAX_ANSWER_CHARS and unmatched.sources


@pytest.mark.slow  # ingests its own index
def test_a_plain_answer_whose_lines_need_context_in_three_sections_stays_within_900_characters(tmp_path):
    """The quote budget counts line text only: labels, list headings and the source line come on top."""
    from knowledge.answering import MAX_ANSWER_CHARS

    unfinished = "Für die Beantragung eines Reisepasses müssen Sie persönlich in einem Bürgerbüro erscheinen und "
    service = {
        "id": "pass",
        "title": "Reisepass beantragen für Erwachsene und Kinder (regulär und Express)",
        "summary": "Den Reisepass beantragen Sie im Bürgerbüro.",
        "sections": {
            "ueberblick": unfinished + "die Unterlagen vollständig mitbringen, und zwar insbesondere folgende Dinge\n"
            "Ihren bisherigen Ausweis, ein aktuelles biometrisches Passfoto sowie bei Minderjährigen die Zustimmung",
            "unterlagen": "Bitte bringen Sie zur Beantragung des Reisepasses im Bürgerbüro die folgenden Unterlagen "
            "vollständig und im Original mit, weil sonst keine Bearbeitung des Antrags möglich ist, und zwar\n"
            "Ihren bisherigen Ausweis oder Reisepass, ein aktuelles biometrisches Passfoto und die Geburtsurkunde.",
            "fristen": "Die Bearbeitungszeit für einen Reisepass beträgt in der Regel drei bis sechs Wochen ab "
            "Antragstellung bei der Bundesdruckerei im Herstellungswerk in\n"
            "Berlin, bei einem Expresspass wenige Werktage.",
            "gebuehren": "Die Gebühr für den Reisepass richtet sich nach dem Alter der antragstellenden Person und der "
            "Art des Passes, genauere und ausführliche Angaben finden Sie\n"
            "in der Gebührenübersicht unten auf dieser Seite.",
        },
        "source_url": "https://stadt.muenchen.de/service/info/hauptabteilung-ii-buergerangelegenheiten/10000000/reisepass",
    }
    answer = _answerer_over(tmp_path, service).answer_service(
        "pass", "Reisepass beantragen: welche Unterlagen, wie lange dauert die Bearbeitungszeit und welche Gebühr?"
    )
    assert len(answer.text) <= MAX_ANSWER_CHARS
    assert "drei bis sechs Wochen" in answer.text and answer.sources


def _prose(n: int) -> list[str]:
    return [f"Satz Nummer {i} dieser Seite erklärt einen weiteren Schritt." for i in range(n)]


def test_a_page_without_catalogue_sections_answers_with_the_passage_around_the_best_line():
    texts = _prose(20)
    lines = _lines_of(*texts, section=Section.UEBERBLICK)
    shown = _chosen(lines, 10)
    assert 10 in shown and shown == list(range(shown[0], shown[-1] + 1))  # one unbroken run of the source
    assert len(shown) > 3 and shown[0] < 10 < shown[-1]  # neighbours on both sides ...
    assert sum(len(texts[i]) for i in shown) <= MAX_CHARS  # ... within the quote budget
    assert len(shown) < len(texts)
    catalogue = _lines_of(*texts)
    assert _chosen(catalogue, 10) == [10]  # a catalogue entry keeps the line it chose


def test_a_passage_stays_under_the_heading_of_its_block():
    texts = ["Lokale Zeitungen", *_prose(3), "Sozialwohnungen", *_prose(3), "Wohngeld", *_prose(2)]
    lines = _lines_of(*texts, section=Section.UEBERBLICK)
    assert _chosen(lines, 6) == [4, 5, 6, 7]  # "Sozialwohnungen" and its lines: not the block before or after


def test_a_passage_does_not_run_into_the_next_block_through_a_broken_line_a_gap_or_a_fee():
    texts = [
        "Lokale Zeitungen",
        "Die Zeitung erscheint jeden Tag.",
        "Weitere Informationen gibt es in den Rathäusern und bei der Stadt",  # no full stop: "goes on"
        "Sozialwohnungen",
        "Es gibt Sozialwohnungen.",
        "Ein Abo der Zeitung kostet 20 Euro.",
    ]
    lines = _lines_of(*texts, section=Section.UEBERBLICK)
    # the unfinished line would bring "Sozialwohnungen" and its block with it: it stays out, as does the fee
    assert _chosen(lines, 1, []) == [0, 1]
    lines = _lines_of("Lokale Zeitungen", "Ein Abo kostet 20 Euro.", "Sozialwohnungen", "Es gibt Sozialwohnungen.",
                      section=Section.UEBERBLICK)  # fmt: skip
    assert _chosen(lines, 3, []) == [2, 3]  # the money line of the block before stays out


def test_a_contact_line_belongs_to_its_block():
    texts = ["Beratung", "Wir beraten Sie gern.", "Ansprechpartnerin: Frau Meier", "E-Mail: beratung@example.org"]
    lines = _lines_of(*texts, section=Section.UEBERBLICK)
    assert _chosen(lines, 1) == [0, 1, 2, 3]  # "label: value" lines are no headings of a new block


def test_a_passage_never_takes_part_of_a_list():
    items = [f"- Nachweis Nummer {n} über die Angaben zur Person und zur Wohnung" for n in range(9)]
    texts = ["Der Antrag wird schriftlich gestellt.", "Bringen Sie bitte diese Unterlagen mit:", *items]
    lines = service_lines(_page({Section.UEBERBLICK: "\n".join(texts)}))
    assert sum(len(line.text) for line in lines) > MAX_CHARS
    assert _chosen(lines, 0) == [0]  # the list does not fit: neither its heading nor some of its items come
    assert _chosen(lines, 4) == [4]  # a chosen item takes no neighbours: they bring the whole list or nothing
    short = service_lines(_page({Section.UEBERBLICK: "\n".join(texts[:5])}))
    assert _chosen(short, 0) == [0, 1, 2, 3, 4]  # a list that fits comes whole, heading first
