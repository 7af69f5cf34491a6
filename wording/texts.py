"""Every text the bot, the gateway and the channels say to citizens and staff, in one place.

Why one module: the same situation used to be worded differently in different files (the Rasa
actions and the degraded mode thanked for feedback in two ways; the widget and the messengers
refused a long message with different sentences), and a city that wants to change a sentence had
to search 18 files. Wording is German (the city's language); English where the citizen wrote in
English is decided by the knowledge engine, whose answer texts stay in `knowledge/` (it never
imports the bot). Parametrised texts are functions, so a caller cannot forget a value.
"""

from __future__ import annotations

# --- dialogue: what the bot says around answers ------------------------------------------------------

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

# --- handoff: what citizens read while staff take over ------------------------------------------------

CALLBACK_BUTTON = "Rückruf oder E-Mail anfordern"
ALL_STAFF_BUSY = "Gerade sind alle Mitarbeitenden im Gespräch oder nicht angemeldet."
CLOSED_BY_STAFF = "Das Gespräch wurde beendet. Vielen Dank! Wenn Sie eine neue Frage haben, schreiben Sie einfach."
CALLBACK_RECEIVED = "Danke! Ihre Bitte ist bei uns eingegangen."


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


# --- handoff: what staff read when the console refuses something -----------------------------------------

NO_CONSENT = "Ohne Ihre Einwilligung können wir Sie leider nicht kontaktieren."
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


# --- channels: refusals and notices --------------------------------------------------------------------


def too_long(max_chars: int) -> str:
    """The refusal of a message over the configured length limit, on every channel."""
    return f"Ihre Nachricht ist zu lang (höchstens {max_chars} Zeichen). Bitte kürzen Sie sie etwas."


# Messenger citizens never see HTTP status codes: friendly replies by refusal code
# (`too_long` is `too_long(limit)`).
MESSENGER_REFUSALS: dict[str, str] = {
    "not_text": "Ich kann leider nur Textnachrichten lesen. Bitte schreiben Sie mir Ihre Frage als Text.",
    "control_chars": "Ihre Nachricht enthält unzulässige Steuerzeichen. Bitte senden Sie sie ohne diese Zeichen "
    "noch einmal.",
    "empty": "Bitte schreiben Sie mir Ihre Frage.",
    "invalid": "Diese Nachricht konnte ich leider nicht lesen. Bitte versuchen Sie es noch einmal.",
    "rate_limited": "Sie haben in kurzer Zeit sehr viele Nachrichten geschickt. Bitte warten Sie einen Moment, "
    "dann antworte ich Ihnen gern wieder.",
    "option_expired": "Diese Auswahl ist nicht mehr gültig. Bitte schreiben Sie mir Ihre Frage noch einmal.",
    "choose_number": "Antworten Sie einfach mit der Nummer Ihrer Wahl.",
}
CHOOSE_PROMPT = "Bitte wählen Sie:"
ROLE_LABELS = {"staff": "Mitarbeiterin oder Mitarbeiter", "system": "Hinweis"}

# A message whose client message id is being answered right now (a retry that overtook the first try).
TURN_IN_PROGRESS = "Ihre Nachricht wird noch bearbeitet. Bitte warten Sie einen Moment, die Antwort kommt gleich."
# A client message id that breaks the rule of `bot.conversation.ids` (names the field: partners read it).
INVALID_CLIENT_MESSAGE_ID = (
    "Die Nachrichten-ID (client_message_id) ist ungültig: erlaubt sind 8 bis 64 Zeichen aus A–Z, a–z, 0–9, "
    "Unterstrich und Bindestrich."
)

# The widget's error frames by code (the widget translates known codes; `too_long` is `too_long(limit)`).
WIDGET_ERRORS: dict[str, str] = {
    "invalid": "Diese Nachricht konnte ich leider nicht lesen. Bitte versuchen Sie es noch einmal.",
    "empty": "Bitte geben Sie eine Nachricht ein.",
    "control_chars": "Ihre Nachricht enthält unzulässige Steuerzeichen. Bitte entfernen Sie sie und senden Sie "
    "sie erneut.",
    "failed": "Entschuldigung, Ihre Nachricht konnte gerade nicht verarbeitet werden. Bitte versuchen Sie es "
    "gleich noch einmal.",
    "unavailable": "Der Chat ist gerade nicht erreichbar. Wir verbinden Sie automatisch neu.",
    "rate_limited": "Sie haben in kurzer Zeit sehr viele Nachrichten gesendet. Bitte warten Sie einen Moment und "
    "versuchen Sie es dann noch einmal.",
    "in_progress": TURN_IN_PROGRESS,
    "invalid_message_id": INVALID_CLIENT_MESSAGE_ID,
}

# --- gateway: HTTP answers a citizen may read ------------------------------------------------------------

RATE_LIMITED = (
    "Sie haben in kurzer Zeit sehr viele Nachrichten gesendet. Bitte warten Sie einen Moment und versuchen Sie "
    "es dann noch einmal."
)
BUSY_REBUILDING = (
    "Der Assistent wird gerade aktualisiert und ist in wenigen Minuten wieder für Sie da. "
    "Bitte versuchen Sie es gleich noch einmal."
)
BRIEFLY_UNAVAILABLE = "Der Dienst ist gerade kurz nicht erreichbar. Bitte versuchen Sie es gleich noch einmal."
