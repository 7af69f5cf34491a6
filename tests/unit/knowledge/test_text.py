"""German analysis: the cases that made us write our own spaCy components."""

from knowledge.text import TypoCorrector, analyze, compound_parts, lemmas, normalize, verb_of_noun


def test_normalize_spellings_meet():
    assert normalize("Führerschein") == normalize("Fuehrerschein") == "fuehrerschein"
    assert normalize("Straße") == normalize("STRASSE") == "strasse"


def test_compound_plurals_are_lemmatised():
    assert "personalausweis" in lemmas("Personalausweise")
    assert "meldebescheinigung" in lemmas("Meldebescheinigungen")
    assert "reisepass" in lemmas("Reisepässe")


def test_lower_case_nouns_get_the_noun_reading():
    assert "unterlage" in lemmas("unterlagen")


def test_compounds_are_split():
    assert {"anwohner", "parkausweis"} <= set(compound_parts("Anwohnerparkausweis"))
    assert {"wohnsitz", "anmeldung"} <= set(compound_parts("Wohnsitzanmeldung"))
    assert compound_parts("Hund") == ()


def test_english_words_are_not_split_as_german_compounds():
    """The German splitter read "deregister" as "de" + "register", and "register" translates to
    "anmelden": the opposite of the question. German compounds still split."""
    assert compound_parts("deregister") == ()
    assert compound_parts("appointment") == ()
    assert "register" not in analyze("How do I deregister my car?", expand=False)
    assert {"ausweis", "pflicht"} <= set(compound_parts("Ausweispflicht"))


def test_colloquial_synonyms_expand_questions_only():
    assert "personalausweis" in analyze("Mein Perso läuft ab")
    assert "personalausweis" not in analyze("Mein Perso läuft ab", expand=False)
    assert {"fahrzeug"} <= set(analyze("Kfz ummelden"))
    assert "kindertagesstaette" in analyze("Kita-Platz gesucht") or "kita" in analyze("Kita-Platz gesucht")
    assert "ummeldung" in analyze("Umzug")


def test_a_separated_particle_joins_a_verb_of_its_own_clause():
    assert "anmelden" in analyze("Wie melde ich mein Auto an?", expand=False)
    assert "abmelden" in analyze("Melde mein Auto ab", expand=False)  # a verb first in the sentence
    assert "anmelden" in analyze("wie melde ich mein auto an", expand=False)  # all lower case: no hint
    # two coordinated clauses, each with its own particle; the noun "Laden" takes none
    terms = analyze("Ich hör mit meiner Selbstständigkeit auf und mach den Laden zu", expand=False)
    assert "aufhoeren" in terms
    assert not {"zuhoeren", "zuladen", "zuaufhoeren"} & set(terms)
    # a coordinated object has no verb of its own; "denn" is a modal particle here, no conjunction
    assert "anmelden" in analyze("Wie melde ich mich und meine Familie an?", expand=False)
    assert "anmelden" in analyze("Wie melde ich mich denn an?", expand=False)
    assert "anmelden" in analyze("WIE MELDE ICH MEIN AUTO AN", expand=False)  # capitals say nothing here
    # a bullet line of the content: its verb comes first after the bullet mark and the line break
    assert "ausfuellen" in analyze("Bitte beachten Sie:\n- Füllen Sie den Antrag aus", expand=False)
    assert "ausfuellen" in analyze("- Ausweis mitbringen\n- Füllen Sie den Antrag aus", expand=False)
    # a doubled space does not end a sentence; a verb that merely starts like a particle ("zünden")
    # still takes one
    assert "anmelden" in analyze("Wie melde ich  mein Auto an?", expand=False)
    assert "anzuenden" in analyze("Zünden Sie die Kerze an", expand=False)


def test_synonym_compounds_are_split_as_written():
    # folded forms split into nonsense: "einbuergerung" → "rung", "staatsangehoerigkeit" → "keit"
    terms = set(analyze("Wie bekomme ich die deutsche Staatsbürgerschaft?"))
    assert {"einbuergerung", "staatsangehoerigkeit"} <= terms
    assert not terms & {"rung", "ange", "hoer", "keit"}


def test_stopwords_and_city_name_are_dropped():
    terms = analyze("Was ist das in München?", expand=False)
    assert terms == []


def test_typo_correction_only_touches_unknown_words():
    corrector = TypoCorrector(["hundesteuer", "anmelden", "hund", "reisepass"])
    assert corrector.correct("hundsteuer") == "hundesteuer"
    assert corrector.correct("anmeldn") == "anmelden"
    assert corrector.correct("reisepass") == "reisepass"
    assert corrector.correct("wetter") is None


def test_ung_nouns_meet_the_verbs_citizens_use():
    # official names are nouns, citizens ask with verbs: both sides carry the verb
    assert "abholen" in analyze("Abholung Personalausweis", expand=False)
    assert "verlaengern" in analyze("Verlängerung befristeter Führerschein-Klassen", expand=False)
    assert "anmelden" in analyze("Wohnsitzanmeldung", expand=False)  # through the compound part
    assert set(analyze("Wann kann ich den Pass abholen?", expand=False)) & set(analyze("Abholung", expand=False))
    assert verb_of_noun("umschreibung") == "umschreiben"
    assert verb_of_noun("ung") is None and verb_of_noun("zung") is None and verb_of_noun("abholen") is None


def test_a_dictionary_word_is_not_a_typo_of_a_content_word():
    # "Aktien" is not a slip of "Aktion", nor "Wien" of "Wiesn": correcting them changes the topic
    corrector = TypoCorrector(["aktion", "wiesn", "auto", "verloren", "registrierung"])
    assert corrector.correct("aktien") is None
    assert corrector.correct("wien") is None
    assert corrector.correct("registration") is None  # English words stay English for the vectors
    assert corrector.correct("audo") == "auto" and corrector.correct("verlohren") == "verloren"


def test_a_word_the_analysis_folded_is_not_corrected_when_the_dictionary_knows_its_spelling():
    # "hör … auf" is joined to aufhören and folded to "aufhoeren", a form no dictionary holds: it is
    # no slip of "anhoeren" (a word of the content), and "hundsteuer" still is one of "hundesteuer"
    corrector = TypoCorrector(["anhoeren", "hundesteuer"])
    assert analyze("Ich hör mit dem Laden auf", expand=False).count("aufhoeren") == 1
    assert corrector.correct("aufhoeren") is None
    assert corrector.correct_terms(["aufhoeren", "hundsteuer"]) == ["hundesteuer", *compound_parts("hundesteuer")]


def test_a_dictionary_word_with_an_umlaut_is_not_corrected_either(munich_index):
    from knowledge.retrieval import analyze_query, corrected_question

    # "Käse" folds to "kaese", which the dictionary check cannot see; one slip from "kasse"
    assert "Käse" in corrected_question(munich_index, "Wo kaufe ich Käse?")
    assert "kasse" not in analyze_query(munich_index, "Wo kaufe ich Käse?").terms


def test_german_words_are_not_translated_by_the_english_table(munich_index):
    from knowledge.retrieval import analyze_query

    # "amt" is too short for the typo list; the English-German table (parallel pages saying
    # "BAföG-Amt" in both languages) once turned it into Ausbildungsförderung
    german = analyze_query(munich_index, "Muss ich jetzt aufs Amt und kostet mich des was?")
    assert "ausbildungsfoerderung" not in german.terms
    assert "amt" in german.content_terms
    english = analyze_query(munich_index, "How much is a residents parking permit?")
    assert "parkausweis" in english.terms  # English questions still reach the German words
