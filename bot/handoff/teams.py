"""Who is responsible: teams, their office hours, urgency and the console's canned texts.

Read from one YAML file (`BUERGERBOT_TEAMS_FILE`, default `bot/handoff/teams.yaml`) so a city can
reorganise its teams without touching code. The responsible team is derived from the service's
"zuständige Stelle" — the same text the citizen sees — so content editors and staff agree.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, model_validator

from bot.handoff.office_hours import OfficeHours
from knowledge.models import Section, Service

DEFAULT_TEAMS_FILE = Path(__file__).resolve().parent / "teams.yaml"


class Team(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9_-]{2,40}$")
    name: str
    match: list[str] = Field(default_factory=list)
    office_hours: str | None = None


class Resolution(BaseModel):
    code: str = Field(pattern=r"^[a-z0-9_-]{2,40}$")
    label: str


class CannedResponse(BaseModel):
    title: str
    text: str


class TeamsConfig(BaseModel):
    timezone: str = "Europe/Berlin"
    office_hours: str = "Mo-Fr 08:00-18:00"
    closed_dates: list[str] = Field(default_factory=list)
    default_team: str
    teams: list[Team]
    urgent_words: list[str] = Field(default_factory=list)
    resolutions: list[Resolution] = Field(default_factory=list)
    canned_responses: list[CannedResponse] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_team_exists(self) -> TeamsConfig:
        if self.default_team not in {t.id for t in self.teams}:
            raise ValueError(f"default_team {self.default_team!r} is not one of the teams")
        for team in self.teams:
            self.hours(team.id)  # parse errors surface at start, not when a citizen asks
        return self

    def team(self, team_id: str | None) -> Team:
        for team in self.teams:
            if team.id == team_id:
                return team
        return self.team(self.default_team)

    def hours(self, team_id: str | None) -> OfficeHours:
        team = self.team(team_id)
        return OfficeHours.parse(team.office_hours or self.office_hours, self.timezone, self.closed_dates)

    def team_for(self, service: Service | None) -> str:
        """First team whose match words occur in the service's responsible office (or id/title)."""
        if service is None:
            return self.default_team
        office = service.sections.get(Section.ZUSTAENDIGE_STELLE, "")
        haystacks = [office.lower(), f"{service.id} {service.title}".lower()]
        for haystack in haystacks:  # the responsible office wins over words in the title
            for team in self.teams:
                if any(word.lower() in haystack for word in team.match):
                    return team.id
        return self.default_team

    def is_urgent(self, *texts: str | None) -> bool:
        joined = " ".join(t.lower() for t in texts if t)
        return any(word in joined for word in self.urgent_words)

    def resolution_codes(self) -> set[str]:
        return {r.code for r in self.resolutions}


def load_teams(path: Path | None = None) -> TeamsConfig:
    source = path or DEFAULT_TEAMS_FILE
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read teams file {source}: {exc}") from exc
    return TeamsConfig.model_validate(data)
