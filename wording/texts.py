"""Every text buergerbot shows to citizens and staff, German and English, in one module.

Why one module: the same situation used to be worded differently in different places (the Rasa
actions and the degraded mode thanked for feedback in two ways; the widget, the console and the
server each kept their own copy of the same sentence), and a city that wanted to change a sentence
had to search some twenty files in three languages (Python, JavaScript, YAML). Now it changes it here.

What counts as a text (and lives here):
- what the assistant says in a chat, on every channel: answers' leads and abstentions, the dialogue
  around answers, handoff notices, refusals of a message (`RASA_RESPONSES` too, see below);
- what the web widget and the staff console show: their texts are served from here, the gateway
  writes `widget_texts()`, `CONSOLE_TEXTS` and `LOGIN_TEXTS` into widget.js, console.js and login.js
  when it serves them (`connectors.common.script_with`);
- HTTP error details of the gateway's public endpoints (widget, console, partner API, messenger
  webhooks): German, shown as they are by the widget's callback form, the console and partner portals;
- labels the code makes for staff: handoff reasons, channels, chart captions of the dashboard and
  the council report, the placeholders that replace personal data in transcripts.

What is not here (and why):
- logs, `buergerbot` CLI output for IT, ingest skip reasons and configuration errors: read by the
  people who run the installation, next to the code that knows the cause;
- API documentation (OpenAPI descriptions, for developers);
- text nobody reads as output: prompts of the optional LLM writer (`knowledge/llm.py`), training
  questions (Rasa NLU, `knowledge/confidence.py`), word lists and patterns the code matches
  against (`knowledge/guard.py`, `knowledge/sections.py`, `bot/conversation/privacy.py`);
- page markup with its text: the console's and login page's HTML (`connectors/console/static/`),
  the demo city page (`connectors/web/demo.py`, a stand-in for the city's own page), the dashboard
  and council report templates (`bot/metrics/templates/`, the PDF's page footer in
  `bot/metrics/report.py`); and what a city configures (canned responses and team names in the
  teams file, the demo accounts' names, the content itself);
- glue between texts: separators, quotation marks, the "und"/"oder" that join service titles
  (`knowledge/topics.py`, `knowledge/answering.py`), number and date formats ("KW 45", "08:00–18:00").

Conventions: a text is a named constant; a text with values is a small function with typed
parameters, so a caller cannot forget a value; German first, `_EN` beside it where the citizen may
read English. Templates the browser fills carry `{name}` placeholders (tests/unit/wording/test_texts.py checks
that German and English variants use the same ones). `bot/dialogue/domain.yml` must keep its
`responses:` (Rasa reads the file): they must equal `RASA_RESPONSES`; tests/unit/wording/test_texts.py fails until
they do and prints the block to paste there.
"""

from __future__ import annotations

from typing import Any

# ===================================================================================================
# Citizens: the chat
# ===================================================================================================

# --- answers (knowledge engine, `knowledge/answering.py`) --------------------------------------------

ABSTAIN_DE = (
    "Dazu finde ich in den offiziellen Informationen der Stadt leider keine sichere Antwort. "
    "Ich möchte Ihnen nichts Falsches sagen. Gerne verbinde ich Sie mit einer Mitarbeiterin oder "
    "einem Mitarbeiter."
)
ABSTAIN_EN = (
    "I could not find a reliable answer to this in the city's official information, and I do not "
    "want to guess. I can connect you with a member of staff."
)
# a request for a person that reached the answerer unsure of any service (`/api/ask`, the CLI; in the
# dialogue the answer action offers the person instead): the promise the abstention makes
PERSON_REQUESTED_DE = "Gern verbinde ich Sie mit einer Mitarbeiterin oder einem Mitarbeiter der Stadt."
PERSON_REQUESTED_EN = "Of course, I can connect you with a member of the city's staff."
# a question in scope whose service retrieval is not sure of: the likeliest service, said as such
UNSURE_LEAD_DE = "Ich bin mir nicht sicher, ob ich Ihre Frage richtig verstanden habe. Am ehesten passt diese Leistung:"
UNSURE_LEAD_EN = "I am not sure I understood your question correctly. This service fits best:"
UNSURE_OTHERS_DE = "Vielleicht meinen Sie auch: {titles}."
# the runner-up's own answering lines follow, under its name and with its source
UNSURE_ALSO_DE = "Vielleicht meinen Sie auch diese Leistung:"
UNSURE_ALSO_EN = "Or perhaps this service (official German text):"
UNSURE_OTHERS_EN = "You may also mean (official German names): {titles}."
UNSURE_HELP_DE = (
    "Passt das nicht? Fragen Sie gern mit anderen Worten nach, oder ich verbinde Sie mit einer "
    "Mitarbeiterin oder einem Mitarbeiter."
)
UNSURE_HELP_EN = "Not what you need? Ask again in other words, or I can connect you with a member of staff."
REFUSE_INJECTION_DE = "Das kann ich nicht tun. Ich beantworte nur Fragen zu den Dienstleistungen der Stadt."
OUT_OF_SCOPE_DE = "Dabei kann ich leider nicht helfen. Ich beantworte Fragen zu den Dienstleistungen der Stadt."
# what the content covers (knowledge/topics.py), appended to the texts above
TOPICS_LEAD_DE = "Ich helfe Ihnen zum Beispiel bei Fragen zu: {topics}."
TOPICS_LEAD_EN = "I can help for example with questions about (official German names): {topics}."
# a question the engine cannot read (`knowledge.input.question_problem`)
EMPTY_DE = "Bitte schreiben Sie Ihre Frage in Worten, zum Beispiel: „Was kostet ein Personalausweis?“"
TOO_LONG_DE = (
    "Ihre Nachricht ist leider zu lang für mich. Bitte stellen Sie Ihre Frage in ein bis zwei Sätzen, "
    "zum Beispiel: „Welche Unterlagen brauche ich für die Anmeldung?“"
)
UNREADABLE_DE = "Ihre Nachricht konnte ich nicht lesen. Bitte schreiben Sie Ihre Frage als normalen Text."
ENGLISH_NOTE = "The official information is available in German only; here is what it says:"
# when no line answers: "nothing on this in the text" only when that is certain (`Selection.gap_is_certain`),
# else the bot says what it did not find, never that the source lacks it
NOT_COVERED_DE = "Dazu steht in der offiziellen Beschreibung dieser Leistung nichts Genaues. Das steht dort:"
NOT_FOUND_DE = "Eine genaue Antwort auf Ihre Frage habe ich in dieser Beschreibung nicht gefunden. Das Wichtigste dazu:"
NO_DATE_DE = "ohne Datum"  # a service without a date of its last update


def source_line_de(url: str, date: str) -> str:
    """The source under an answer's text ("Quelle: <url> (Stand: 01.02.2026)")."""
    return f"Quelle: {url} (Stand: {date})"


# The sections of a service description (`knowledge.models.Section`, by its value), as citizens read them.
SECTION_LABELS_DE: dict[str, str] = {
    "ueberblick": "Überblick",
    "voraussetzungen": "Voraussetzungen",
    "unterlagen": "Unterlagen",
    "gebuehren": "Gebühren",
    "fristen": "Fristen",
    "ablauf": "Ablauf",
    "zustaendige_stelle": "Zuständige Stelle",
    "online_dienst": "Online-Dienst",
    "formulare": "Formulare",
}
SECTION_LABELS_EN: dict[str, str] = {
    "ueberblick": "Overview",
    "voraussetzungen": "Requirements",
    "unterlagen": "Documents",
    "gebuehren": "Fees",
    "fristen": "Deadlines",
    "ablauf": "Procedure",
    "zustaendige_stelle": "Responsible office",
    "online_dienst": "Online service",
    "formulare": "Forms",
}

# Sources under an answer on text-only channels (`bot.turns.presentation.sources_text`).
SOURCE_LABELS: dict[str, dict[str, str]] = {
    "de": {"one": "Quelle", "many": "Quellen", "updated": "Stand"},
    "en": {"one": "Source", "many": "Sources", "updated": "as of"},
}

# --- dialogue: what the bot says around answers (Rasa actions and the degraded mode alike) ----------------

CLARIFY_DE = "Dazu gibt es mehrere Angebote. Welches meinen Sie?"
CLARIFY_EN = "There are several services for this. Which one do you mean?"
FEEDBACK_QUESTION = "War das hilfreich?"
FEEDBACK_BUTTONS = [
    {"title": "👍 Ja", "payload": "/feedback_positive"},
    {"title": "👎 Nein", "payload": "/feedback_negative"},
]
FEEDBACK_THANKS = "Danke für Ihre Rückmeldung! Kann ich sonst noch helfen?"
OFFER_LEAD_REQUESTED = "Gern."
OFFER_LEAD_SORRY = "Das tut mir leid."
OFFER_TEXT = (
    "Ich kann Sie mit einer Mitarbeiterin oder einem Mitarbeiter der Stadt verbinden. Dafür sieht die "
    "Person diesen Chatverlauf. Sind Sie damit einverstanden?"
)
CONSENT_BUTTONS = [
    {"title": "Ja, bitte verbinden", "payload": "/affirm"},
    {"title": "Nein, danke", "payload": "/deny"},
]
HANDOFF_CONFIRMED = "Danke. Ich habe Ihr Anliegen an die Mitarbeitenden der Stadt weitergegeben."
HANDOFF_DECLINED = "In Ordnung. Fragen Sie mich gern weiter, ich helfe Ihnen, so gut ich kann."
CALLBACK_ELSEWHERE = (
    "Eine Rückruf- oder E-Mail-Bitte können Sie im Chat-Fenster auf der Website der Stadt hinterlassen. "
    "Ihr Anliegen bleibt hier in der Warteschlange, und wir antworten Ihnen in diesem Chat."
)

# Rasa's own responses (`bot/dialogue/domain.yml`, `responses:`): Rasa reads that file, so it keeps them;
# tests/unit/wording/test_texts.py checks that they equal these. Change a text here and copy it there.
RASA_RESPONSES: dict[str, str] = {
    "utter_greet": "Grüß Gott! Ich bin der digitale Bürgerservice der Stadt. Stellen Sie Ihre Frage zu einer "
    "Dienstleistung der Stadt einfach in Ihren eigenen Worten. (You can also ask in English.)",
    "utter_goodbye": "Auf Wiedersehen und einen schönen Tag!",
    "utter_youre_welcome": "Gern geschehen! Kann ich sonst noch helfen?",
    "utter_how_can_i_help": "Wie kann ich Ihnen helfen? Stellen Sie einfach Ihre Frage.",
    "utter_chitchat": "Ich bin ein digitaler Assistent der Stadtverwaltung, kein Mensch. Ich antworte nur mit den "
    "offiziellen Informationen der Stadt und nenne immer die Quelle. Wenn ich nicht weiterweiß, verbinde ich Sie "
    "gern mit einer Mitarbeiterin oder einem Mitarbeiter.",
    "utter_insult": "Schade, dass Sie unzufrieden sind. Ich möchte Ihnen trotzdem gern helfen: Stellen Sie Ihre "
    "Frage zu einer Dienstleistung der Stadt, oder ich verbinde Sie mit einem Menschen.",
}

# --- handoff: what citizens read while staff take over ------------------------------------------------

CALLBACK_BUTTON = "Rückruf oder E-Mail anfordern"
CALLBACK_REQUESTED = "Rückruf oder E-Mail angefordert"  # the widget's button once the request is in
ALL_STAFF_BUSY = "Gerade sind alle Mitarbeitenden im Gespräch oder nicht angemeldet."
CLOSED_BY_STAFF = "Das Gespräch wurde beendet. Vielen Dank! Wenn Sie eine neue Frage haben, schreiben Sie einfach."
CALLBACK_RECEIVED = "Danke! Ihre Bitte ist bei uns eingegangen."
NO_CONSENT = "Ohne Ihre Einwilligung können wir Sie leider nicht kontaktieren."


def queue_position(position: int, team_name: str) -> str:
    return (
        f"Sie sind an Position {position} der Warteschlange für das Team „{team_name}“. "
        "Eine Mitarbeiterin oder ein Mitarbeiter meldet sich hier im Chat. Bis dahin können Sie mir "
        "gern weitere Fragen stellen."
    )


def team_away(hours: str, next_opening: str) -> str:
    return f"Unser Chat-Team ist {hours} für Sie da, also wieder {next_opening}."


def nobody_now(why: str) -> str:
    return (
        f"{why} Ihr Anliegen bleibt in der Warteschlange. Sie können uns auch eine Rückruf- oder "
        "E-Mail-Bitte hinterlassen, dann meldet sich das Team bei Ihnen."
    )


def callback_confirmed(contact_kind: str) -> str:
    way = "per E-Mail" if contact_kind == "email" else "telefonisch"
    return f"{CALLBACK_RECEIVED} Das Team meldet sich {way} bei Ihnen."


def staff_joined(staff_name: str, team_name: str) -> str:
    return f"{staff_name} ({team_name}) ist jetzt für Sie da und hat Ihren bisherigen Chat gelesen."


def transferred_to(team_name: str) -> str:
    return f"Ihr Anliegen wurde an das Team „{team_name}“ weitergegeben. Dort meldet sich gleich jemand bei Ihnen."


def handed_back(staff_name: str, unanswered: bool) -> str:
    text = f"{staff_name} hat das Gespräch an den Chatbot zurückgegeben. "
    if unanswered:
        return text + "Ihre letzte Nachricht ist noch nicht beantwortet: Bitte stellen Sie mir Ihre Frage noch einmal."
    return text + "Sie können mir jederzeit weitere Fragen stellen."


# --- office hours of the chat teams, as citizens read them (`bot.handoff.office_hours`) -----------------

DAY_NAMES_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")  # Monday first
DAY_ABBREVIATIONS_DE = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
NEXT_SERVICE_HOURS_DE = "zu den nächsten Servicezeiten"  # when the team is back, if no opening is known


def service_hours(days: str, times: str) -> str:
    """One line of a team's hours: "Mo–Fr 08:00–18:00 Uhr"."""
    return f"{days} {times} Uhr"


def opening_today(time: str) -> str:
    return f"heute um {time} Uhr"


def opening_tomorrow(time: str) -> str:
    return f"morgen um {time} Uhr"


def opening_on(weekday: int, time: str) -> str:
    """`weekday` as Python counts it (0 = Monday)."""
    return f"am {DAY_NAMES_DE[weekday]} um {time} Uhr"


# --- channels: refusals and notices --------------------------------------------------------------------


def too_long(max_chars: int) -> str:
    """The refusal of a message over the configured length limit, on every channel."""
    return f"Ihre Nachricht ist zu lang (höchstens {max_chars} Zeichen). Bitte kürzen Sie sie etwas."


def too_long_en(max_chars: int) -> str:
    return f"Your message is too long ({max_chars} characters at most). Please shorten it."


UNREADABLE_MESSAGE = "Diese Nachricht konnte ich leider nicht lesen. Bitte versuchen Sie es noch einmal."
RATE_LIMITED = (
    "Sie haben in kurzer Zeit sehr viele Nachrichten gesendet. Bitte warten Sie einen Moment und versuchen Sie "
    "es dann noch einmal."
)

# Messenger citizens never see HTTP status codes: friendly replies by refusal code
# (`too_long` is `too_long(limit)`).
MESSENGER_REFUSALS: dict[str, str] = {
    "not_text": "Ich kann leider nur Textnachrichten lesen. Bitte schreiben Sie mir Ihre Frage als Text.",
    "control_chars": "Ihre Nachricht enthält unzulässige Steuerzeichen. Bitte senden Sie sie ohne diese Zeichen "
    "noch einmal.",
    "empty": "Bitte schreiben Sie mir Ihre Frage.",
    "invalid": UNREADABLE_MESSAGE,
    "rate_limited": "Sie haben in kurzer Zeit sehr viele Nachrichten geschickt. Bitte warten Sie einen Moment, "
    "dann antworte ich Ihnen gern wieder.",
    "option_expired": "Diese Auswahl ist nicht mehr gültig. Bitte schreiben Sie mir Ihre Frage noch einmal.",
    "choose_number": "Antworten Sie einfach mit der Nummer Ihrer Wahl.",
}
CHOOSE_PROMPT = "Bitte wählen Sie:"
LIST_BUTTON = "Auswahl anzeigen"  # WhatsApp: the button that opens a list of more than three options
STAFF_LABEL = "Mitarbeiterin oder Mitarbeiter"
NOTICE_LABEL = "Hinweis"
# who speaks, above a message on text-only channels (the widget shows the same labels)
ROLE_LABELS = {"staff": STAFF_LABEL, "system": NOTICE_LABEL}

# A message whose client message id is being answered right now (a retry that overtook the first try).
TURN_IN_PROGRESS = "Ihre Nachricht wird noch bearbeitet. Bitte warten Sie einen Moment, die Antwort kommt gleich."
# A client message id that breaks the rule of `bot.conversation.ids` (names the field: partners read it).
INVALID_CLIENT_MESSAGE_ID = (
    "Die Nachrichten-ID (client_message_id) ist ungültig: erlaubt sind 8 bis 64 Zeichen aus A–Z, a–z, 0–9, "
    "Unterstrich und Bindestrich."
)

# The widget's error frames by code (the widget shows its own translation of known codes, `widget_texts`;
# `too_long` is `too_long(limit)`).
WIDGET_ERRORS: dict[str, str] = {
    "invalid": UNREADABLE_MESSAGE,
    "empty": "Bitte geben Sie eine Nachricht ein.",
    "control_chars": "Ihre Nachricht enthält unzulässige Steuerzeichen. Bitte entfernen Sie sie und senden Sie "
    "sie erneut.",
    "failed": "Entschuldigung, Ihre Nachricht konnte gerade nicht verarbeitet werden. Bitte versuchen Sie es "
    "gleich noch einmal.",
    "unavailable": "Der Chat ist gerade nicht erreichbar. Wir verbinden Sie automatisch neu.",
    "rate_limited": RATE_LIMITED,
    "in_progress": TURN_IN_PROGRESS,
    "invalid_message_id": INVALID_CLIENT_MESSAGE_ID,
}
WIDGET_ERRORS_EN: dict[str, str] = {
    "invalid": "I could not read this message. Please try again.",
    "empty": "Please enter a message.",
    "control_chars": "Your message contains control characters that are not allowed. Please remove them.",
    "failed": "Sorry, your message could not be processed right now. Please try again in a moment.",
    "unavailable": "The chat is not reachable right now. We will reconnect automatically.",
    "rate_limited": "You have sent a lot of messages in a short time. Please wait a moment and try again.",
    "in_progress": "Your message is still being processed. Please wait a moment, the answer is on its way.",
    "invalid_message_id": "This message could not be assigned. Please reload the page.",
}
# the widget makes its own ids, so a refused one means a stale page: the citizen reads what to do
WIDGET_ID_REFUSED = "Diese Nachricht konnte nicht zugeordnet werden. Bitte laden Sie die Seite neu."

# ===================================================================================================
# Citizens: the web widget (`connectors/web/static/widget.js`, written in by `connectors.web.router`)
# ===================================================================================================

NEW_WINDOW_DE = " (öffnet neues Fenster)"  # read by screen readers after a link's text (widget and console)

WIDGET_DE: dict[str, str] = {
    "launcher": "Fragen? Chat mit dem Bürgerservice",
    "unread": "Neue Nachricht",
    "title": "Chat mit dem Bürgerservice",
    "close": "Chat schließen",
    "intro": "Ich beantworte Fragen auf Grundlage der offiziellen Seiten der Stadt und nenne die Quelle. "
    "Bitte geben Sie keine vertraulichen Daten ein.",
    "log": "Chatverlauf",
    "you": "Sie",
    "bot": "Bürgerservice-Assistent",
    "staff": STAFF_LABEL,
    "system": NOTICE_LABEL,
    "inputLabel": "Ihre Nachricht",
    "placeholder": "z. B. Was kostet ein Reisepass?",
    "send": "Senden",
    "human": "Mit einem Menschen sprechen",
    "humanText": "Ich möchte mit einem Menschen sprechen",
    "typing": "Der Assistent schreibt …",
    "sources": SOURCE_LABELS["de"]["many"],
    "updated": "Stand: ",
    "newWindow": NEW_WINDOW_DE,
    "options": "Antwortmöglichkeiten",
    "queuedAt": "Sie sind an Position {n} der Warteschlange. Eine Mitarbeiterin oder ein Mitarbeiter meldet sich hier.",
    "staffNamed": "{name} ist jetzt für Sie da.",
    "cbTitle": CALLBACK_BUTTON,
    "cbIntro": "Hinterlassen Sie uns Ihre Kontaktdaten. Das Team meldet sich zu den Servicezeiten bei Ihnen.",
    "cbWay": "Wie sollen wir Sie erreichen?",
    "cbEmail": "E-Mail",
    "cbPhone": "Telefon",
    "cbEmailLabel": "Ihre E-Mail-Adresse",
    "cbBadEmail": "Bitte geben Sie eine gültige E-Mail-Adresse an.",
    "cbNoConsent": NO_CONSENT,
    "cbBadPhone": "Bitte geben Sie eine gültige Telefonnummer an.",
    "cbPhoneLabel": "Ihre Telefonnummer",
    "cbNote": "Ihr Anliegen in Stichworten (freiwillig)",
    "cbConsent": "Ich bin einverstanden, dass die Stadt mich zu meinem Anliegen kontaktiert und meine Kontaktdaten "
    "dafür speichert.",
    "cbSubmit": "Absenden",
    "cbCancel": "Abbrechen",
    "cbSending": "Wird gesendet …",
    "cbMissing": "Bitte geben Sie Ihre E-Mail-Adresse oder Telefonnummer an.",
    "cbFailed": "Ihre Bitte konnte gerade nicht gesendet werden. Bitte versuchen Sie es gleich noch einmal.",
    "queued": "Sie sind in der Warteschlange.",
    "queuedBusy": "Sie sind an Position {n} der Warteschlange. " + ALL_STAFF_BUSY,
    "queuedClosed": "Ihr Anliegen ist in der Warteschlange. Das Chat-Team ist wieder {when} für Sie da.",
    "queuedLater": NEXT_SERVICE_HOURS_DE,
    "queuedCallback": "Ihre Rückruf- oder E-Mail-Bitte ist eingegangen. Das Team meldet sich bei Ihnen.",
    "cbDone": CALLBACK_REQUESTED,
    "staffState": "Eine Mitarbeiterin oder ein Mitarbeiter ist jetzt für Sie da.",
    "closedState": "Diese Unterhaltung wurde beendet.",
    "connecting": "Verbindung wird hergestellt …",
    "reconnecting": "Verbindung unterbrochen. Wir verbinden Sie neu – Ihre Nachrichten gehen nicht verloren.",
    "sendFailed": "Ihre Nachricht konnte nicht gesendet werden. Bitte versuchen Sie es gleich noch einmal.",
}
WIDGET_EN: dict[str, str] = {
    "launcher": "Questions? Chat with Citizen Services",
    "unread": "New message",
    "title": "Chat with Citizen Services",
    "close": "Close chat",
    "intro": "I answer questions from the city's official pages and name the source. "
    "Please do not enter confidential data.",
    "log": "Chat history",
    "you": "You",
    "bot": "Citizen services assistant",
    "staff": "Staff member",
    "system": "Note",
    "inputLabel": "Your message",
    "placeholder": "e.g. How much is a passport?",
    "send": "Send",
    "human": "Talk to a person",
    "humanText": "I would like to talk to a person",
    "typing": "The assistant is typing …",
    "sources": SOURCE_LABELS["en"]["many"],
    "updated": "As of: ",
    "newWindow": " (opens in a new window)",
    "options": "Reply options",
    "queuedAt": "You are number {n} in the queue. A member of staff will reply here.",
    "staffNamed": "{name} is now with you.",
    "cbTitle": "Request a call back or an e-mail",
    "cbIntro": "Leave your contact details. The team will get back to you during office hours.",
    "cbWay": "How should we contact you?",
    "cbEmail": "E-mail",
    "cbPhone": "Phone",
    "cbEmailLabel": "Your e-mail address",
    "cbBadEmail": "Please enter a valid e-mail address.",
    "cbNoConsent": "Without your consent we cannot contact you.",
    "cbBadPhone": "Please enter a valid phone number.",
    "cbPhoneLabel": "Your phone number",
    "cbNote": "Your request in a few words (optional)",
    "cbConsent": "I agree that the city may contact me about my request and store my contact details for this purpose.",
    "cbSubmit": "Send",
    "cbCancel": "Cancel",
    "cbSending": "Sending …",
    "cbMissing": "Please enter your e-mail address or phone number.",
    "cbFailed": "Your request could not be sent. Please try again in a moment.",
    "queued": "You are in the queue.",
    "queuedBusy": "You are number {n} in the queue. All members of staff are busy or not signed in right now.",
    "queuedClosed": "Your request is in the queue. The chat team is back {when}.",
    "queuedLater": "during the next service hours",
    "queuedCallback": "Your request for a call back or an e-mail has been received. The team will contact you.",
    "cbDone": "Call back or e-mail requested",
    "staffState": "A member of staff is now with you.",
    "closedState": "This conversation has ended.",
    "connecting": "Connecting …",
    "reconnecting": "Connection lost. Reconnecting – your messages are not lost.",
    "sendFailed": "Your message could not be sent. Please try again in a moment.",
    # German has the server's "am Montag um 08:00 Uhr" (`opening_on`); other languages build it from the time
    "queuedOn": "on {day} at {time}",
}
WEEKDAYS_EN = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")  # as JS counts them


def widget_texts(max_chars: int) -> dict[str, dict[str, Any]]:
    """The widget's texts by language (the page's `lang`), with the installation's length limit."""
    return {
        "de": {
            **WIDGET_DE,
            "errors": {**WIDGET_ERRORS, "too_long": too_long(max_chars), "invalid_message_id": WIDGET_ID_REFUSED},
        },
        "en": {
            **WIDGET_EN,
            "weekdays": list(WEEKDAYS_EN),
            "errors": {**WIDGET_ERRORS_EN, "too_long": too_long_en(max_chars)},
        },
    }


# ===================================================================================================
# Staff: the console (`connectors/console/`), handoff refusals, dashboard and council report
# ===================================================================================================

# --- handoff: what staff read when the console refuses something -----------------------------------------

CONVERSATION_NOT_FOUND = "Unterhaltung nicht gefunden"
ALREADY_CLOSED = "Diese Unterhaltung ist bereits beendet."
NOT_YOURS_ANY_MORE = "Sie betreuen diese Unterhaltung nicht (mehr)."
HELD_BY_COLLEAGUE = "Diese Unterhaltung betreut eine Kollegin oder ein Kollege."
CALLBACK_STILL_OPEN = (
    "Hier ist noch eine Rückruf- oder E-Mail-Bitte offen. Melden Sie sich wie erbeten bei der "
    "Bürgerin oder dem Bürger und beenden Sie die Unterhaltung dann mit einem Abschlusscode – "
    "oder leiten Sie sie an ein anderes Team weiter."
)


def other_team(team_name: str) -> str:
    return (
        f"Diese Unterhaltung gehört zum Team „{team_name}“, nicht zu Ihren Teams. Wenn Sie sie "
        "übernehmen sollen, bitten Sie Ihre Teamleitung darum."
    )


def already_taken(holder: str) -> str:
    return f"Diese Unterhaltung hat bereits {holder} übernommen."


def unknown_team(team: str) -> str:
    return f"Unbekanntes Team: {team}"


def unknown_resolution(code: str) -> str:
    return f"Unbekannter Abschlusscode: {code}"


# --- console: sign-in, permissions and input (`connectors.console.auth`, `connectors.console.router`) -------

PLEASE_SIGN_IN = "Bitte melden Sie sich an."
CSRF_FAILED = "Sicherheitsprüfung fehlgeschlagen (CSRF). Bitte laden Sie die Seite neu."
NOT_PERMITTED = "Dafür fehlt Ihnen die Berechtigung."
WRONG_LOGIN = "Benutzername oder Passwort ist falsch."
ENTER_TEXT = "Bitte geben Sie einen Text ein."
INVALID_CONVERSATION_ID = "Ungültige Unterhaltungs-ID"
SERVER_UNREACHABLE = "Der Server ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal."


def too_many_logins(minutes: int) -> str:
    return (
        f"Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie {minutes} Minuten oder wenden Sie sich an "
        "die Administration."
    )


def password_too_short(min_chars: int) -> str:
    return f"Das Passwort muss mindestens {min_chars} Zeichen lang sein."


def unknown_role(role: str) -> str:
    return f"Unbekannte Rolle {role!r} (agent, supervisor, admin)."


def account_exists(username: str) -> str:
    return f"Es gibt bereits ein Konto {username!r}."


# --- console page (`connectors/console/static/console.js`; German only, `{name}` filled by the script) ------

CONSOLE_TEXTS: dict[str, Any] = {
    "reconnecting": "Verbindung wird wiederhergestellt …",
    "offline": SERVER_UNREACHABLE,
    "roles": {"agent": "Mitarbeiter/in", "supervisor": "Teamleitung", "admin": "Administration"},
    "states": {"bot": "beim Chatbot", "queued": "wartet", "staff": "bei Mitarbeiter/in", "closed": "beendet"},
    "channels": {
        "web": "Web-Chat",
        "rest": "Web (REST)",
        "whatsapp": "WhatsApp",
        "matrix": "Matrix",
        "email": "E-Mail",
    },
    "languages": {
        "de": "Deutsch",
        "en": "Englisch",
        "tr": "Türkisch",
        "ar": "Arabisch",
        "uk": "Ukrainisch",
        "ru": "Russisch",
    },
    "newWindow": NEW_WINDOW_DE,
    "seconds": "{s} s",
    "minutes": "{m} Min.",
    "hoursMinutes": "{h} Std. {m} Min.",
    "noTopic": "ohne Thema",
    "signIn": PLEASE_SIGN_IN,
    "failedWith": "Das hat nicht geklappt (Fehler {status}).",
    "callbackPhone": "Rückruf erbeten (Telefon): {contact}",
    "callbackEmail": "Antwort per E-Mail erbeten: {contact}",
    "callbackNote": "{request} – Anliegen: {note}",
    "callbackOpen": "{request} · Offen, bis die Unterhaltung mit einem Abschlusscode beendet wird.",
    "waiting": "wartet {duration}",
    "ago": "zuletzt vor {duration}",
    "urgent": "dringend",
    "badgePhone": "Rückruf",
    "badgeEmail": "E-Mail",
    "quoted": "„{text}“",
    "noQuestionYet": "(noch keine Frage)",
    "lastText": "Zuletzt: „{text}“",
    "team": "Team: {team}",
    "channel": "Kanal: {channel}",
    "language": "Sprache: {language}",
    "started": "Beginn: {time}",
    "liveMore": "Angezeigt werden die {shown} zuletzt aktiven von {total}.",
    "withYou": "bei Ihnen",
    "withColleague": "bei {name}",
    "colleague": "Kolleg/in",
    "newRequest": "Neue Anfrage in der Warteschlange{urgent}: Team {team}{callback}.",
    "newRequestUrgent": " (dringend)",
    "newRequestCallback": ", Rückrufbitte",
    "newRequests": "{n} neue Anfragen in der Warteschlange.",
    "roleCitizen": "Bürger/in",
    "roleBot": "Chatbot",
    "roleStaff": "Mitarbeiter/in",
    "roleStaffNamed": "Mitarbeiter/in: {name}",
    "roleSystem": "System-Hinweis",
    "sources": SOURCE_LABELS["de"]["many"],
    "source": SOURCE_LABELS["de"]["one"],
    "sourceSection": "{title} – {section}",
    "updated": " (Stand: {date})",
    "offered": "Angebotene Auswahl:",
    "buttonChosen": "Schaltfläche gewählt",
    "newCitizenMessage": "Neue Nachricht der Bürgerin oder des Bürgers: {text}",
    "internal": "Intern",
    "heading": "Anliegen: {service}",
    "queuedPosition": "{state} (Position {position})",
    "heldByYou": "von Ihnen betreut",
    "heldBy": "betreut von {name}",
    "aColleague": "einer Kollegin / einem Kollegen",
    "hintHeld": "Senden mit Strg+Enter.",
    "hintClosed": "Diese Unterhaltung ist beendet.",
    "hintTake": "Übernehmen Sie die Unterhaltung (Alt+T), um zu antworten.",
    "selectFirst": "Bitte wählen Sie zuerst eine Unterhaltung aus.",
    "taken": "Sie haben die Unterhaltung übernommen. Die Bürgerin oder der Bürger sieht jetzt Ihren Namen.",
    "nobodyWaitingNow": "Niemand wartet gerade in der Warteschlange.",
    "notYours": "Sie betreuen diese Unterhaltung nicht. Übernehmen Sie sie zuerst, um {what}.",
    "toReply": "zu antworten",
    "toHandBack": "sie zurückzugeben",
    "toTransfer": "sie weiterzuleiten",
    "enterReply": "Bitte geben Sie eine Antwort ein.",
    "replySent": "Antwort gesendet.",
    "enterNote": "Bitte geben Sie eine Notiz ein.",
    "noteSaved": "Interne Notiz gespeichert.",
    "handedBack": "Die Unterhaltung ist zurück beim Chatbot.",
    "transferred": "Weitergeleitet an das Team {team}.",
    "transferredAway": "{done} Die Unterhaltung liegt jetzt in dessen Warteschlange.",
    "alreadyClosed": ALREADY_CLOSED,
    "heldByColleague": HELD_BY_COLLEAGUE,
    "closed": "Die Unterhaltung wurde beendet.",
    "searching": "Passende Antworten werden gesucht …",
    "checkFirst": "Bitte prüfen und bei Bedarf anpassen, bevor Sie senden.",
    "noSuggestion": "Keine passende Antwort in der Wissensdatenbank gefunden.",
    "suggestion": "Antwortvorschlag",
    "forQuestion": "Zur Frage: „{question}“",
    "useSuggestion": "In Antwort übernehmen",
    "suggestionUsed": "Vorschlag in das Antwortfeld übernommen. Bitte prüfen und anpassen.",
    "suggestionsFailed": "Vorschläge konnten nicht geladen werden.",
    "otherTeamNow": "Diese Unterhaltung gehört jetzt zu einem anderen Team.",
    "openToAll": "{team} (für alle offen)",
    "queueScope": "Sie sehen die Anfragen Ihrer Teams: {teams}. Andere Teams erreichen Sie über „Weiterleiten“.",
    "noneSelected": "Keine Unterhaltung ausgewählt",
    "selectOne": "Wählen Sie eine Unterhaltung aus.",
    "nobodySignedIn": "Niemand angemeldet.",
    "nobodyWaits": "Niemand wartet.",
    "noneActive": "Keine aktiven Unterhaltungen.",
    "open": "Öffnen",
    "openConversationOf": "Unterhaltung von {name} öffnen",
    "clock": "{time} Uhr",
    "nobodyHolds": "Niemand betreut gerade eine Unterhaltung.",
    "overviewUpdated": "Stand: {time} Uhr",
    "cannedInserted": "Textbaustein „{title}“ eingefügt.",
}

# --- console sign-in page (`connectors/console/static/login.js`) ------------------------------------------

LOGIN_TEXTS: dict[str, str] = {
    "enterUsername": "Bitte geben Sie Ihren Benutzernamen ein.",
    "enterPassword": "Bitte geben Sie Ihr Passwort ein.",
    "signingIn": "Anmeldung läuft …",
    "signIn": "Anmelden",
    "failed": "Die Anmeldung ist fehlgeschlagen. Bitte versuchen Sie es erneut.",
    "offline": SERVER_UNREACHABLE,
}

# --- transcripts: what replaces personal data (`bot.conversation.privacy.redact`) ----------------------------

REDACTED_NAME = "[NAME]"
REDACTED_EMAIL = "[E-MAIL]"
REDACTED_PHONE = "[TELEFON]"
REDACTED_IBAN = "[IBAN]"
REDACTED_TAX_ID = "[STEUER-ID]"
REDACTED_ID_CARD = "[AUSWEISNUMMER]"
REDACTED_ADDRESS = "[ADRESSE]"
REDACTED_BIRTH_DATE = "[GEBURTSDATUM]"

# --- dashboard and council report (`bot/metrics/`; page text is in its templates) ---------------------------

METRICS_CHANNEL_NAMES = {"web": "Website", "rest": "REST/API", "telegram": "Telegram", "matrix": "Matrix",
                         "whatsapp": "WhatsApp", "console": "Konsole", "-": "unbekannt"}  # fmt: skip
# Every handoff reason (`bot.handoff.service.HandoffReason`, by its value) needs its label here:
# the council report must never show a raw key.
HANDOFF_REASON_NAMES: dict[str, str] = {
    "requested": "auf Wunsch",
    "repeated_failure": "Bot wusste mehrfach keine Antwort",
    "negative_feedback": "negative Rückmeldung",
    "staff_takeover": "Übernahme durch Mitarbeitende",
    "callback": "Rückruf- oder E-Mail-Bitte",
}
NO_SERVICE_LABEL = "ohne erkannte Leistung"
NO_TEAM_LABEL = "ohne Team"
MONTHS_DE = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
             "November", "Dezember")  # fmt: skip
NO_DATA = "Keine Daten im gewählten Zeitraum."
# a chart's title (read by screen readers) and the caption under it
CHART_TITLES: dict[str, str] = {
    "trend": "Unterhaltungen im Zeitverlauf",
    "saved": "Geschätzt eingesparte Arbeitsstunden im Zeitverlauf",
    "services": "Geschätzt eingesparte Arbeitsstunden nach Leistung",
    "demand": "Unterhaltungen nach Leistung",
    "reasons": "Gründe für Übergaben an Mitarbeitende",
    "channels": "Unterhaltungen nach Kanal",
}
CHART_CAPTIONS: dict[str, str] = {
    **CHART_TITLES,
    "reasons": "Gründe für Übergaben an Mitarbeitende (Anzahl Übergaben)",
    "channels": "Unterhaltungen nach Kanal (Anzahl Unterhaltungen)",
}
CHART_SERIES: dict[str, str] = {
    "conversations": "Unterhaltungen",
    "contained": "ohne Mitarbeitende gelöst",
    "handoffs": "an Mitarbeitende übergeben",
    "hours_saved": "eingesparte Stunden (geschätzt)",
}
DATE_FROM = "von"  # the dashboard's date fields, as an error names them
DATE_TO = "bis"
DATE_HELP = "Bitte geben Sie das Datum als TT.MM.JJJJ ein, z. B. 01.11.2026."
INVALID_PERIOD = "Zeitraum ungültig (von ≤ bis, höchstens drei Jahre)."


def invalid_date(field: str) -> str:
    return f"„{field}“ ist kein gültiges Datum. {DATE_HELP}"


# ===================================================================================================
# Everyone: HTTP answers of the gateway (widget, console, partner API, messenger webhooks)
# ===================================================================================================

BUSY_REBUILDING = (
    "Der Assistent wird gerade aktualisiert und ist in wenigen Minuten wieder für Sie da. "
    "Bitte versuchen Sie es gleich noch einmal."
)
BRIEFLY_UNAVAILABLE = "Der Dienst ist gerade kurz nicht erreichbar. Bitte versuchen Sie es gleich noch einmal."
BODY_TOO_LARGE = "Die Anfrage ist zu groß."
BAD_ENCODING = "Die Anfrage ist kein gültiges UTF-8."
BAD_JSON = "Die Anfrage ist kein gültiges JSON."
BAD_SHAPE = "Die Anfrage hat nicht das erwartete Format."
BAD_TEXT = "Der Text enthält unzulässige Steuerzeichen."
FILE_NOT_FOUND = "Nicht gefunden"
PARTNER_API_NOT_CONFIGURED = "Die Partner-Schnittstelle ist auf diesem Server nicht eingerichtet."
BAD_API_KEY = "Der API-Schlüssel fehlt oder ist ungültig."
TELEGRAM_NOT_CONFIGURED = "Telegram ist auf diesem Server nicht eingerichtet."
BAD_WEBHOOK_SECRET = "Ungültiges Webhook-Geheimnis."
WHATSAPP_NOT_CONFIGURED = "WhatsApp ist auf diesem Server nicht eingerichtet."
BAD_SIGNATURE = "Ungültige Signatur."
VERIFICATION_FAILED = "Verifizierung fehlgeschlagen."
