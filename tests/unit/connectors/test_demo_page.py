"""The demo city page says what the running assistant serves (issue 16, item 9).

City name from `BUERGERBOT_CITY_NAME`, the chat team's hours from the teams file, topic cards from
the loaded index: nothing on the page is written twice or contradicts the chat.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml

from bot.handoff.teams import DEFAULT_TEAMS_FILE


def teams_file(tmp_path: Path) -> Path:
    config = yaml.safe_load(DEFAULT_TEAMS_FILE.read_text(encoding="utf-8"))
    config["office_hours"] = "Mo-Do 09:00-15:00"
    next_year = dt.date.today().year + 1
    config["closed_dates"] = ["2020-01-01", f"{next_year}-12-24"]
    for team in config["teams"]:
        team.pop("office_hours", None)
        if team["id"] == "standesamt":
            team["office_hours"] = "Fr 10:00-12:00"
    path = tmp_path / "teams.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_demo_page_takes_city_hours_and_topics_from_configuration(make_client, demo_index, tmp_path: Path):
    client = make_client(city_name="Hansestadt <Teststadt>", teams_file=teams_file(tmp_path))
    page = client.get("/").text
    assert "<title>Bürgerservice – Hansestadt &lt;Teststadt&gt;</title>" in page
    assert '<p class="brand">Hansestadt &lt;Teststadt&gt; <small>' in page
    assert "Musterstadt" not in page and "Rathausplatz" not in page  # nothing invented

    rows = re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td></tr>', page)
    assert ("Standesamt", "Fr 10:00–12:00 Uhr") in rows
    assert any(hours == "Mo–Do 09:00–15:00 Uhr" and "Bürgerbüro" in teams for teams, hours in rows), rows
    assert "7:30" not in page and "08:00" not in page  # no second, different set of hours
    assert f"24.12.{dt.date.today().year + 1}" in page and "01.01.2020" not in page  # only days still ahead

    cards = re.findall(r"<li><h3>(.*?)</h3>", page)
    titles = {service.title for service in demo_index.services.values()}
    assert cards and set(cards) <= titles, cards


def test_demo_page_defaults_to_the_content_it_ships(make_client):
    page = make_client().get("/").text
    assert "Landeshauptstadt München" in page
    assert "Mo–Fr 08:00–18:00 Uhr" in page and "Mo–Fr 08:00–16:00 Uhr" in page  # bot/handoff/teams.yaml
