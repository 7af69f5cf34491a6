from knowledge.models import Section
from knowledge.sections import asks_for, requested_sections


def test_fee_questions():
    assert requested_sections("Was kostet ein Reisepass?")[0] is Section.GEBUEHREN
    assert requested_sections("How much does a German ID card cost?")[0] is Section.GEBUEHREN
    # a price asked without a fee word
    assert Section.GEBUEHREN in requested_sections("Was verlangen Sie dafür?")
    assert Section.GEBUEHREN in requested_sections("Was nehmt ihr dafür?")
    assert Section.GEBUEHREN in requested_sections("Ist die Beratung gratis?")
    # ... but what an office demands, what to take along, or "in vain" is no price
    assert Section.GEBUEHREN not in requested_sections("Die Bank verlangt, dass ich unterschreibe")
    assert Section.GEBUEHREN not in requested_sections("Was verlangen Sie von mir für die Einbürgerung?")
    assert Section.GEBUEHREN not in requested_sections("Was nimmt man zum Termin mit?")
    assert Section.GEBUEHREN not in requested_sections("Ich will einen Pass beantragen, was nimmt man dafür mit?")
    assert Section.GEBUEHREN not in requested_sections("Ich war umsonst beim Bürgerbüro, was nun?")


def test_document_and_deadline_questions():
    assert Section.UNTERLAGEN in requested_sections("Welche Unterlagen brauche ich?")
    assert Section.FRISTEN in requested_sections("Bis wann muss ich mich anmelden?")
    assert Section.FRISTEN in requested_sections("Wie lange ist der Pass gültig?")
    # how long, how early, from when: asked in everyday words too
    assert Section.FRISTEN in requested_sections("Wie lang wird der Führerschein aufgehoben?")
    assert Section.FRISTEN in requested_sections("Wie früh muss ich die Versteigerung anzeigen?")
    assert Section.FRISTEN in requested_sections("Wie weit im Voraus kann ich den Termin buchen?")
    assert Section.FRISTEN in requested_sections("Ab wann werden die Termine freigeschaltet?")
    assert Section.FRISTEN in requested_sections("How early can I book?")
    assert Section.FRISTEN not in requested_sections("Muss ich vorher einen Termin ausmachen?")


def test_where_questions():
    assert Section.ZUSTAENDIGE_STELLE in requested_sections("Wo bekomme ich eine Meldebescheinigung?")
    assert Section.ONLINE_DIENST in requested_sections("Geht das auch online?")


def test_permission_question_is_requirements_not_documents():
    found = requested_sections("Brauche ich eine Genehmigung für die Garage?")
    assert Section.VORAUSSETZUNGEN in found
    assert Section.UNTERLAGEN not in found
    both = requested_sections("Muss ich einen Termin machen und was muss ich mitbringen?")
    assert Section.UNTERLAGEN in both and Section.VORAUSSETZUNGEN in both


def test_general_question_has_no_section():
    assert requested_sections("Hundesteuer") == []


def test_words_that_ask_for_a_kind_of_fact_are_known_as_such():
    fee = requested_sections("Was kostet ein Personalausweis?")
    assert asks_for("kosten", fee) and asks_for("gebuehr", fee)
    assert not asks_for("personalausweis", fee)
    assert not asks_for("kosten", requested_sections("Wie lange dauert es?"))
