"""The handoff state machine: bot → queued → staff → bot (or closed), kept entirely in Redis.

Why here and not in the console: citizens' channels, Rasa's handoff events and the staff console
all change the same conversation, possibly from different gateway processes. Every transition is
one method that validates the current state, updates the conversation atomically, tells the
citizen what is happening in plain German, emits an event for the metrics and notifies every
console via pub/sub. The race "two agents click take at once" is decided by a Redis SET NX claim.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from enum import StrEnum
from typing import Any, cast

from pydantic import BaseModel

from bot.conversation import events
from bot.conversation.store import (
    ACTIVE,
    CONSOLE_CHANNEL,
    PREFIX,
    QUEUE,
    Button,
    Conversation,
    ConversationState,
    ConversationStore,
    Message,
    channel_name,
    conversation_key,
)
from bot.handoff.office_hours import describe_next
from bot.handoff.teams import TeamsConfig
from knowledge.guard import asks_for_person
from knowledge.models import Service
from wording import texts

log = logging.getLogger(__name__)


class HandoffReason(StrEnum):
    """Why a conversation went to staff: the one vocabulary of actions, turn handling, events and metrics.

    The reason crosses the Rasa boundary as a string (slot `handoff_reason`, custom JSON), is stored in
    the event log (`detail`) and grouped in the council report. When each side spelled it on its own,
    the answer action sent "repeated_abstention" while the report only knew "repeated_failure", and
    the council saw a raw key. Every member needs a German label in `bot.metrics.service.REASON_NAMES`.
    """

    REQUESTED = "requested"  # the citizen asked for a person
    REPEATED_FAILURE = "repeated_failure"  # the bot could not answer twice in a row
    NEGATIVE_FEEDBACK = "negative_feedback"  # "not helpful" on an answer
    STAFF_TAKEOVER = "staff_takeover"  # staff took a running conversation over
    CALLBACK = "callback"  # the citizen left a call-back or e-mail request

    @classmethod
    def parse(cls, value: object, default: HandoffReason | None = None) -> HandoffReason:
        """The reason a string from outside names (Rasa slot, custom JSON, stored event).

        Old spellings still found in Rasa trackers and event logs are read as their member; anything
        unknown becomes `default` (REQUESTED unless given) and is logged, so a typo never reaches a report.
        """
        if isinstance(value, cls):
            return value
        text = str(value or "")
        text = _LEGACY_REASONS.get(text, text)
        try:
            return cls(text)
        except ValueError:
            log.warning("unknown handoff reason %r, counted as %s", value, default or cls.REQUESTED)
            return default or cls.REQUESTED


# spellings written before the enum existed (Redis trackers and SQL event logs still hold them)
_LEGACY_REASONS = {"repeated_abstention": HandoffReason.REPEATED_FAILURE.value}

ONLINE = f"{PREFIX}:staff:online"  # staff username -> last heartbeat (console open)
ONLINE_WINDOW_S = 90.0
LIVE_WINDOW_S = 1800.0  # "running": a message within the last 30 minutes and not ended
URGENT_HEAD_START_S = 3600.0  # an urgent request is served as if it had waited an hour longer
CALLBACK_PAYLOAD = "/request_callback"


def claim_key(conversation_id: str) -> str:
    return f"{PREFIX}:claim:{conversation_id}"


def notes_key(conversation_id: str) -> str:
    return f"{PREFIX}:notes:{conversation_id}"


class HandoffError(Exception):
    """A transition that is not allowed now; `status` is the HTTP status the console shows."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


class StaffMember(BaseModel):
    username: str
    display_name: str
    role: str = "agent"  # agent | supervisor | admin
    teams: list[str] = []


class QueueEntry(BaseModel):
    conversation: Conversation
    position: int
    waiting_s: float
    question: str = ""  # the citizen's latest own question: the headline staff read first
    last_text: str = ""  # the citizen's latest typed words (button presses left out)


class Note(BaseModel):
    staff: str
    text: str
    ts: float


class HandoffStatus(BaseModel):
    position: int | None
    office_open: bool
    staff_online: bool
    next_opening: str


class HandoffService:
    def __init__(self, store: ConversationStore, teams: TeamsConfig, services: dict[str, Service]) -> None:
        self.store = store
        self.redis = store.redis
        self.teams = teams
        self.services = services

    # --- citizen side -----------------------------------------------------------------------------

    def request(
        self,
        conversation_id: str,
        reason: HandoffReason,
        service: str | None = None,
        actor: str = "citizen",
        announce: bool = True,
    ) -> Conversation:
        """Queue a conversation (idempotent) and tell the citizen honestly what happens next."""
        reason = HandoffReason.parse(reason)  # a plain string from a caller outside this package still lands here
        conversation = self.store.get_or_create(conversation_id)
        if conversation.state in (ConversationState.QUEUED, ConversationState.STAFF):
            return conversation
        service_id = service or conversation.service
        team = self.teams.team_for(self.services.get(service_id or ""))
        recent = " ".join(m.text for m in self.store.history(conversation_id)[-6:] if m.role == "citizen")
        priority = 1 if self.teams.is_urgent(service_id, recent) else 0
        now = time.time()
        conversation = self.store.update(
            conversation_id,
            state=ConversationState.QUEUED,
            handoff_reason=reason.value,
            service=service_id,
            team=team,
            priority=priority,
            queued_at=now,
            assignee=None,
            assignee_name=None,
        )
        self.redis.zadd(QUEUE, {conversation_id: now - URGENT_HEAD_START_S * priority}, nx=True)
        self.store.emit(
            events.handoff_requested(
                conversation_id,
                actor,
                reason=reason.value,
                service=service_id,
                team=team,
                priority=priority,
                channel=conversation.channel,
                language=conversation.language,
            )
        )
        self._notify_consoles("queued", conversation_id)
        if announce:
            self.store.append(self.status_message(conversation))
            self.store.publish_state(conversation_id, state="queued", position=self.position(conversation_id))
        return conversation

    def status(self, conversation: Conversation, now: dt.datetime | None = None) -> HandoffStatus:
        hours = self.teams.hours(conversation.team)
        return HandoffStatus(
            position=self.position(conversation.id),
            office_open=hours.is_open(now),
            staff_online=bool(self.online_staff(conversation.team)),
            next_opening=describe_next(hours.next_opening(now), now),
        )

    def status_message(self, conversation: Conversation, now: dt.datetime | None = None) -> Message:
        """The honest line after a handoff request: queue position, or why nobody can answer now."""
        status = self.status(conversation, now)
        team_name = self.teams.team(conversation.team).name
        if status.office_open and status.staff_online:
            text = texts.queue_position(status.position or 1, team_name)
            buttons: list[Button] = []
        else:
            hours = self.teams.hours(conversation.team).describe()
            why = texts.ALL_STAFF_BUSY if status.office_open else texts.team_away(hours, status.next_opening)
            text = texts.nobody_now(why)
            buttons = [Button(title=texts.CALLBACK_BUTTON, payload=CALLBACK_PAYLOAD)]
        return Message(
            conversation_id=conversation.id,
            role="system",
            text=text,
            buttons=buttons,
            data={"kind": "queue_status", **status.model_dump()},
        )

    def request_callback(
        self, conversation_id: str, contact_kind: str, contact: str, note: str, consent: bool
    ) -> Conversation:
        """Store a callback/e-mail ticket in the queue. Contact data stays in Redis (TTL), never in events."""
        if not consent:
            raise HandoffError(texts.NO_CONSENT, 400)
        conversation = self.store.get(conversation_id)
        if conversation is None:
            raise HandoffError(texts.CONVERSATION_NOT_FOUND, 404)
        if conversation.state is ConversationState.BOT:
            conversation = self.request(conversation_id, HandoffReason.CALLBACK, announce=False)
            self.store.publish_state(conversation_id, state="queued", position=self.position(conversation_id))
        ticket = {"kind": contact_kind, "contact": contact, "note": note, "consent_ts": time.time()}
        conversation = self.store.update(conversation_id, callback=ticket)
        self.store.emit(events.callback_requested(conversation_id, conversation.team, contact_kind))
        self._tell(conversation_id, "callback_confirmed", texts.callback_confirmed(contact_kind))
        self._notify_consoles("callback", conversation_id)
        return conversation

    def position(self, conversation_id: str) -> int | None:
        rank = self.redis.zrank(QUEUE, conversation_id)
        return int(cast(int, rank)) + 1 if rank is not None else None

    # --- who may handle what ------------------------------------------------------------------------

    def responsible_team(self, conversation: Conversation) -> str:
        """The team a conversation belongs to now.

        Queued, held or closed: the team it was queued (or transferred) for. With the bot: the team
        of the service it is about now, which is where a takeover would put it.
        """
        if conversation.state is ConversationState.BOT or not conversation.team:
            return self.teams.team_for(self.services.get(conversation.service or ""))
        return conversation.team

    def may_handle(self, staff: StaffMember, conversation: Conversation) -> bool:
        """Agents work their own teams' conversations; supervisors and admins cross teams.

        Why: citizens tell a team things meant for that team (a Kfz clerk has no business in a
        naturalisation chat). The general team (`default_team`) holds topics the bot did not
        recognise, so every agent may triage those; an agent account without teams is a generalist
        (small cities run one team). Whoever holds a conversation keeps access to it.
        """
        if staff.role != "agent" or not staff.teams or conversation.assignee == staff.username:
            return True
        team = self.responsible_team(conversation)
        return team == self.teams.default_team or team in staff.teams

    def accessible(self, conversation_id: str, staff: StaffMember) -> Conversation:
        """The conversation if this staff member may see and handle it; 404 or 403 otherwise."""
        conversation = self.store.get(conversation_id)
        if conversation is None:
            raise HandoffError(texts.CONVERSATION_NOT_FOUND, 404)
        if not self.may_handle(staff, conversation):
            team_name = self.teams.team(self.responsible_team(conversation)).name
            raise HandoffError(texts.other_team(team_name), 403)
        return conversation

    # --- staff side -------------------------------------------------------------------------------

    def take(self, conversation_id: str, staff: StaffMember) -> Conversation:
        """Take over a queued or live bot conversation; exactly one staff member wins a race."""
        conversation = self.accessible(conversation_id, staff)
        if conversation.state is ConversationState.CLOSED:
            raise HandoffError(texts.ALREADY_CLOSED)
        claim = f"{staff.username}\t{staff.display_name}"
        if not self.redis.set(claim_key(conversation_id), claim, nx=True, ex=self.store.ttl_s):
            holder, _, holder_name = str(self.redis.get(claim_key(conversation_id)) or "").partition("\t")
            if holder == staff.username:
                return conversation
            raise HandoffError(texts.already_taken(holder_name or holder))
        was_queued = conversation.state is ConversationState.QUEUED
        if not was_queued:  # a staff member steps into a live bot conversation
            team = self.teams.team_for(self.services.get(conversation.service or ""))
            self.store.emit(
                events.handoff_requested(
                    conversation_id,
                    f"staff:{staff.username}",
                    reason=HandoffReason.STAFF_TAKEOVER.value,
                    service=conversation.service,
                    team=team,
                    channel=conversation.channel,
                    language=conversation.language,
                )
            )
            conversation = self.store.update(conversation_id, team=team, queued_at=time.time())
        now = time.time()
        waited = now - (conversation.queued_at or now)
        conversation = self.store.update(
            conversation_id,
            state=ConversationState.STAFF,
            assignee=staff.username,
            assignee_name=staff.display_name,
            taken_at=now,
            first_staff_reply_at=None,
        )
        self.redis.zrem(QUEUE, conversation_id)
        self.store.emit(events.handoff_accepted(conversation_id, staff.username, conversation.team, waited))
        team_name = self.teams.team(conversation.team).name
        self._tell(
            conversation_id,
            "staff_joined",
            texts.staff_joined(staff.display_name, team_name),
            staff=staff.display_name,
        )
        self.store.publish_state(conversation_id, state="staff", staff=staff.display_name)
        self._notify_consoles("taken", conversation_id)
        return conversation

    def _held(self, conversation_id: str, staff: StaffMember) -> Conversation:
        conversation = self.store.get(conversation_id)
        if conversation is None:
            raise HandoffError(texts.CONVERSATION_NOT_FOUND, 404)
        if conversation.state is not ConversationState.STAFF or conversation.assignee != staff.username:
            raise HandoffError(texts.NOT_YOURS_ANY_MORE)
        return conversation

    def reply(self, conversation_id: str, staff: StaffMember, text: str) -> Message:
        conversation = self._held(conversation_id, staff)
        if conversation.first_staff_reply_at is None:
            self.store.update(conversation_id, first_staff_reply_at=time.time())
        message = self.store.append(
            Message(
                conversation_id=conversation_id,
                role="staff",
                text=text,
                data={"staff": staff.display_name},
            )
        )
        self.store.emit(events.staff_message(conversation_id, staff.username, conversation.team))
        return message

    def add_note(self, conversation_id: str, staff: StaffMember, text: str) -> Note:
        """Internal notes: for colleagues only, never shown to the citizen."""
        self.accessible(conversation_id, staff)
        note = Note(staff=staff.display_name, text=text, ts=time.time())
        pipe = self.redis.pipeline()
        pipe.rpush(notes_key(conversation_id), note.model_dump_json())
        pipe.expire(notes_key(conversation_id), self.store.ttl_s)
        pipe.execute()
        self.store.emit(events.note_added(conversation_id, staff.username))
        self._notify_consoles("note", conversation_id)
        return note

    def notes(self, conversation_id: str) -> list[Note]:
        return [Note.model_validate_json(raw) for raw in self.redis.lrange(notes_key(conversation_id), 0, -1)]

    def transfer(self, conversation_id: str, staff: StaffMember, team: str) -> Conversation:
        """Back into the queue for another team, keeping the original waiting time."""
        if team not in {t.id for t in self.teams.teams}:
            raise HandoffError(texts.unknown_team(team), 400)
        conversation = self._held(conversation_id, staff)
        self.redis.delete(claim_key(conversation_id))
        conversation = self.store.update(
            conversation_id, state=ConversationState.QUEUED, team=team, assignee=None, assignee_name=None
        )
        score = (conversation.queued_at or time.time()) - URGENT_HEAD_START_S * conversation.priority
        self.redis.zadd(QUEUE, {conversation_id: score})
        self.store.emit(events.transferred(conversation_id, staff.username, self._team_of(staff), team))
        self._tell(conversation_id, "transferred", texts.transferred_to(self.teams.team(team).name))
        self.store.publish_state(conversation_id, state="queued")
        self._notify_consoles("transferred", conversation_id)
        return conversation

    def hand_back(self, conversation_id: str, staff: StaffMember) -> Conversation:
        """The bot continues; Rasa's tracker and the service slot are untouched, so context stays.

        Refused while a callback/e-mail ticket is open: handing back would drop it from the queue
        while the citizen still waits for the promised call, so the ticket ends only by closing
        the conversation with a resolution (or by a transfer, which keeps it queued). A question
        the citizen asked last and nobody answered is named to the citizen, who is asked to put
        it to the bot again (the console warns staff before they get here).
        """
        held = self._held(conversation_id, staff)
        if held.callback:
            raise HandoffError(texts.CALLBACK_STILL_OPEN)
        unanswered = self.unanswered(conversation_id)
        self.redis.delete(claim_key(conversation_id))
        conversation = self.store.update(
            conversation_id, state=ConversationState.BOT, assignee=None, assignee_name=None, handoff_reason=None
        )
        self.store.emit(events.handed_back(conversation_id, staff.username, conversation.team))
        self._tell(conversation_id, "staff_left", texts.handed_back(staff.display_name, bool(unanswered)))
        self.store.publish_state(conversation_id, state="bot")
        self._notify_consoles("handed_back", conversation_id)
        return conversation

    def close(self, conversation_id: str, staff: StaffMember, resolution: str) -> Conversation:
        if resolution not in self.teams.resolution_codes():
            raise HandoffError(texts.unknown_resolution(resolution), 400)
        conversation = self.accessible(conversation_id, staff)
        if conversation.state is ConversationState.STAFF and conversation.assignee != staff.username:
            raise HandoffError(texts.HELD_BY_COLLEAGUE)
        self.redis.delete(claim_key(conversation_id))
        self.redis.zrem(QUEUE, conversation_id)
        conversation = self.store.update(conversation_id, state=ConversationState.CLOSED, callback=None)
        self.store.emit(
            events.closed(conversation_id, f"staff:{staff.username}", "staff", resolution, conversation.team)
        )
        self._tell(conversation_id, "closed", texts.CLOSED_BY_STAFF)
        self.store.publish_state(conversation_id, state="closed")
        self._notify_consoles("closed", conversation_id)
        return conversation

    # --- views for the console --------------------------------------------------------------------

    def unanswered(self, conversation_id: str) -> str | None:
        """The citizen's last message if neither the bot nor staff replied after it, else None."""
        for message in reversed(self.store.history(conversation_id)):
            if message.role in ("bot", "staff"):
                return None
            if message.role == "citizen":
                return message.text
        return None

    def queue(self, staff: StaffMember | None = None) -> list[QueueEntry]:
        """Everyone waiting, in order; with `staff`, only what that person may take (positions stay global)."""
        now = time.time()
        entries: list[QueueEntry] = []
        for position, conversation_id in enumerate(cast(list[str], self.redis.zrange(QUEUE, 0, -1)), start=1):
            conversation = self.store.get(conversation_id)
            if conversation is None:  # expired meanwhile
                self.redis.zrem(QUEUE, conversation_id)
                continue
            if staff is not None and not self.may_handle(staff, conversation):
                continue
            typed = [m.text for m in self.store.history(conversation_id) if m.role == "citizen" and not _is_choice(m)]
            questions = [t for t in typed if not asks_for_person(t)]  # the request itself is no question
            entries.append(
                QueueEntry(
                    conversation=conversation,
                    position=position,
                    waiting_s=round(now - (conversation.queued_at or now), 1),
                    question=(questions[-1] if questions else "")[:200],
                    last_text=(typed[-1] if typed else "")[:200],
                )
            )
        return entries

    def live(self, staff: StaffMember | None = None, within_s: float = LIVE_WINDOW_S) -> list[Conversation]:
        """Running conversations, newest first: not ended, with a message in the last `within_s` seconds.

        This one definition feeds both the console's list and the supervisor's counts, so the two
        can never disagree; nothing is capped here (a display may show fewer, but counts all).
        With `staff`, only the conversations that person may handle.
        """
        now = time.time()
        self.redis.zremrangebyscore(ACTIVE, "-inf", now - max(within_s, self.store.ttl_s))  # expired anyway
        ids = cast(list[str], self.redis.zrevrangebyscore(ACTIVE, "+inf", now - within_s))
        result: list[Conversation] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for raw in self.redis.mget([conversation_key(i) for i in chunk]):
                if not raw:
                    continue
                conversation = Conversation.model_validate_json(raw)
                if conversation.state is ConversationState.CLOSED:
                    continue
                if staff is None or self.may_handle(staff, conversation):
                    result.append(conversation)
        return result

    def heartbeat(self, staff: StaffMember) -> None:
        self.redis.zadd(ONLINE, {json.dumps(staff.model_dump(), sort_keys=True): time.time()})

    def online_staff(self, team: str | None = None) -> list[StaffMember]:
        self.redis.zremrangebyscore(ONLINE, "-inf", time.time() - ONLINE_WINDOW_S)
        members = [StaffMember.model_validate_json(raw) for raw in cast(list[str], self.redis.zrange(ONLINE, 0, -1))]
        unique = {m.username: m for m in members}
        if team is None:
            return list(unique.values())
        general = team == self.teams.default_team  # every agent may take the general team's conversations
        return [m for m in unique.values() if not m.teams or team in m.teams or m.role != "agent" or general]

    def sign_off(self, staff: StaffMember) -> None:
        for raw in cast(list[str], self.redis.zrange(ONLINE, 0, -1)):
            if StaffMember.model_validate_json(raw).username == staff.username:
                self.redis.zrem(ONLINE, raw)

    def _tell(self, conversation_id: str, kind: str, text: str, **data: Any) -> Message:
        """A system line for the citizen (joined, left, transferred, …), stored and published like any message."""
        return self.store.append(
            Message(conversation_id=conversation_id, role="system", text=text, data={"kind": kind, **data})
        )

    def _team_of(self, staff: StaffMember) -> str | None:
        return staff.teams[0] if staff.teams else None

    def _notify_consoles(self, change: str, conversation_id: str) -> None:
        self.redis.publish(CONSOLE_CHANNEL, json.dumps({"kind": change, "conversation_id": conversation_id}))
        if change in ("taken", "transferred", "closed", "abandoned"):
            self._publish_positions()

    def _publish_positions(self) -> None:
        """Everyone still waiting learns their new place when someone ahead of them is served."""
        pipe = self.redis.pipeline()
        for position, waiting_id in enumerate(cast(list[str], self.redis.zrange(QUEUE, 0, -1)), start=1):
            frame = {"kind": "state", "state": "queued", "position": position}
            pipe.publish(channel_name(waiting_id), json.dumps(frame))
        pipe.execute()

    def sweep_abandoned(self, idle_s: float = 1800.0) -> list[str]:
        """Queued conversations whose citizen has been silent for `idle_s` are counted as abandoned."""
        abandoned: list[str] = []
        now = time.time()
        for entry in self.queue():
            conversation = entry.conversation
            if conversation.callback:  # a callback ticket waits for staff, the citizen need not stay
                continue
            history = self.store.history(conversation.id)
            last_citizen = max((m.ts for m in history if m.role == "citizen"), default=conversation.queued_at or now)
            if now - max(last_citizen, conversation.queued_at or 0) < idle_s:
                continue
            self.redis.zrem(QUEUE, conversation.id)
            self.store.update(conversation.id, state=ConversationState.BOT)
            self.store.emit(events.abandoned(conversation.id, entry.waiting_s, conversation.team))
            self._notify_consoles("abandoned", conversation.id)
            abandoned.append(conversation.id)
        return abandoned


def _is_choice(message: Message) -> bool:
    """A button press (its payload is kept by the turn handler) or a raw command, not words the citizen wrote."""
    return bool(message.data.get("payload")) or message.text.startswith("/")


def staff_view(message: Message) -> dict[str, Any]:
    """What the console shows of a message: text (never HTML), role, sources of bot answers.

    `options` are the buttons the citizen was offered, `choice` marks a citizen's button press, so
    staff can read "the bot asked, the citizen clicked 'Ja, bitte verbinden'" in the transcript.
    """
    return {
        "options": [b.title for b in message.buttons],
        "choice": message.role == "citizen" and _is_choice(message),
        "seq": message.seq,
        "role": message.role,
        "text": message.text,
        "ts": message.ts,
        "sources": message.data.get("sources", []),
        "service_id": message.data.get("service_id"),
        "kind": message.data.get("kind"),
        "staff": message.data.get("staff"),
    }
