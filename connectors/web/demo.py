"""The demo city page: a service page with the widget embedded the way a city would do it (one script tag).

Why it is rendered from configuration instead of written out: the page must say what the running
assistant serves, and nothing twice. The city's name is `BUERGERBOT_CITY_NAME` (the content the
assistant quotes is that city's), the chat team's service hours come from the teams file (the same
hours the handoff tells a waiting citizen), and the topic cards name services of the loaded index
with their official titles. So a city that changes its teams file or content never has a page that
contradicts its own chat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from html import escape
from zoneinfo import ZoneInfo

from bot.handoff.teams import TeamsConfig
from knowledge.models import Service

# Topics citizens ask about most; a card is shown only if the index has a service with this word in its title.
CARD_TOPICS = ("Personalausweis", "Reisepass", "Wohnsitz", "Führungszeugnis", "Parkausweis", "Kfz", "Hund")
MAX_CARDS = 6
MAX_CLOSED_DATES = 8
SUMMARY_CHARS = 160

PAGE = """<!doctype html>
<html lang="de">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bürgerservice – {city}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/demo.css">
<script src="/widget/widget.js" defer></script>
</head>
<body>
<a class="skip" href="#inhalt">Zum Inhalt springen</a>
<header class="site-header">
  <div class="inner">
    <p class="brand">{city} <small>Bürgerservice online</small></p>
    <nav aria-label="Hauptnavigation">
      <ul>
        {nav_services}<li><a href="#servicezeiten">Servicezeiten im Chat</a></li>
        <li><a href="#kontakt">Kontakt</a></li>
        <li><a href="#chat-hinweise">Chat und Datenschutz</a></li>
      </ul>
    </nav>
  </div>
</header>
<main id="inhalt">
  <h1>Bürgerservice</h1>
  <p>Unser Chat-Assistent beantwortet Ihre Fragen zu den Dienstleistungen der Stadtverwaltung rund um die
  Uhr – ausschließlich auf Grundlage der offiziellen Leistungsbeschreibungen, mit Quelle und Stand. Auf
  Wunsch verbindet er Sie mit einer Mitarbeiterin oder einem Mitarbeiter.</p>
{services}
  <h2 id="servicezeiten">Servicezeiten im Chat</h2>
  <p>Mitarbeiterinnen und Mitarbeiter antworten Ihnen im Chat zu diesen Zeiten. Außerhalb dieser Zeiten
  bleibt Ihr Anliegen in der Warteschlange, und Sie können eine Rückruf- oder E-Mail-Bitte hinterlassen.</p>
  <table>
    <caption class="skip">Servicezeiten der Chat-Teams</caption>
{hours}
  </table>
{closed}
  <h2 id="kontakt">Kontakt</h2>
  <p>Welche Stelle für Ihr Anliegen zuständig ist und wie Sie sie erreichen, nennt Ihnen der Chat-Assistent
  zu jeder Leistung, mit Quelle.</p>

  <h2 id="chat-hinweise">Chat und Datenschutz</h2>
  <p>Der Chat setzt keine Cookies und lädt nichts von fremden Servern. Ihre Unterhaltung ist nur in diesem
  Browser-Tab mit einer zufälligen Kennung verbunden, die beim Schließen des Tabs verworfen wird.
  Bitte geben Sie im Chat keine vertraulichen Daten wie Ausweisnummern ein.</p>
</main>
<footer class="site-footer">
  <div class="inner">
    <p><a href="#inhalt">Impressum</a> · <a href="#chat-hinweise">Datenschutz</a> ·
    <a href="#inhalt">Erklärung zur Barrierefreiheit</a></p>
  </div>
</footer>
</body>
</html>
"""


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    end = text.find(". ")
    sentence = text[: end + 1] if 0 < end < SUMMARY_CHARS else text
    return sentence if len(sentence) <= SUMMARY_CHARS else sentence[: SUMMARY_CHARS - 1].rstrip() + "…"


def topic_services(services: Iterable[Service]) -> list[Service]:
    """One service per topic, the shortest matching title (the general service rather than a special case)."""
    listed = list(services)
    chosen: list[Service] = []
    for topic in CARD_TOPICS:
        matches = [s for s in listed if topic.lower() in s.title.lower() and s not in chosen]
        if matches:
            chosen.append(min(matches, key=lambda s: (len(s.title), s.title)))
        if len(chosen) == MAX_CARDS:
            break
    return chosen


def _services_html(services: list[Service]) -> str:
    if not services:
        return ""
    cards = []
    for service in services:
        summary = _first_sentence(service.summary) if service.summary else ""
        text = f"<p>{escape(summary)}</p>" if summary else ""
        cards.append(f"    <li><h3>{escape(service.title)}</h3>{text}</li>")
    return (
        '  <h2 id="dienstleistungen">Häufig gefragte Dienstleistungen</h2>\n'
        "  <p>Fragen Sie den Chat-Assistenten zum Beispiel hierzu:</p>\n"
        '  <ul class="cards">\n' + "\n".join(cards) + "\n  </ul>\n"
    )


def _hours_rows(teams: TeamsConfig) -> str:
    """One row per distinct set of hours; the teams that keep them are named in the row."""
    by_hours: dict[str, list[str]] = {}
    for team in teams.teams:
        by_hours.setdefault(teams.hours(team.id).describe(), []).append(team.name)
    rows = []
    for hours, names in by_hours.items():
        label = "Alle Teams" if len(by_hours) == 1 else ", ".join(names)
        rows.append(f'    <tr><th scope="row">{escape(label)}</th><td>{escape(hours)}</td></tr>')
    return "\n".join(rows)


def _closed_html(teams: TeamsConfig, today: dt.date) -> str:
    upcoming = sorted(d for d in (dt.date.fromisoformat(x) for x in teams.closed_dates) if d >= today)
    if not upcoming:
        return ""
    dates = ", ".join(f"{d:%d.%m.%Y}" for d in upcoming[:MAX_CLOSED_DATES])
    return f"  <p>Nicht erreichbar an diesen Tagen: {escape(dates)}.</p>\n"


def render_demo_page(city: str, teams: TeamsConfig, services: Iterable[Service], today: dt.date | None = None) -> str:
    """The demo page for this installation; every value is escaped (the teams file is edited by people)."""
    chosen = topic_services(services)
    today = today or dt.datetime.now(ZoneInfo(teams.timezone)).date()
    nav = '<li><a href="#dienstleistungen">Dienstleistungen</a></li>\n        ' if chosen else ""
    return PAGE.format(
        city=escape(city),
        nav_services=nav,
        services=_services_html(chosen),
        hours=_hours_rows(teams),
        closed=_closed_html(teams, today),
    )
