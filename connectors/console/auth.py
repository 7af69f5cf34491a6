"""Staff accounts, console sessions, CSRF and login throttling — all in Redis, shared by every gateway.

Decisions (see README "Staff console"):
- Passwords are stored only as argon2id hashes (argon2-cffi defaults, rehashed when parameters change).
- A session is a random 256-bit token in an HttpOnly, SameSite=Strict cookie scoped to /console;
  Redis keeps only its SHA-256, so a Redis dump does not hand out live sessions. Sessions end after
  an idle timeout and an absolute lifetime (one shift).
- CSRF: every state-changing console request must carry the session's CSRF token in a header; the
  console's own JS reads it from /console/api/me. SameSite=Strict is a second line, not the only one.
- Brute force: failed logins are counted per username and per client IP; too many lock the login for
  a while. Unknown users cost the same argon2 work as known ones, so timing does not reveal accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Annotated

import redis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel, Field

from bot.conversation.store import PREFIX
from bot.handoff.service import StaffMember
from bot.settings import Settings
from wording import texts

ROLES = ("agent", "supervisor", "admin")
COOKIE = "bb_console"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD_CHARS = 12
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(Exception):
    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class Account(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")
    display_name: str = Field(min_length=1, max_length=80)
    role: str = Field(pattern="^(agent|supervisor|admin)$")
    teams: list[str] = Field(default_factory=list)
    password_hash: str
    created: float = Field(default_factory=time.time)

    def member(self) -> StaffMember:
        return StaffMember(username=self.username, display_name=self.display_name, role=self.role, teams=self.teams)


class Session(BaseModel):
    username: str
    csrf: str
    created: float
    last_seen: float


def _user_key(username: str) -> str:
    return f"{PREFIX}:user:{username}"


def _session_key(token: str) -> str:
    return f"{PREFIX}:session:{hashlib.sha256(token.encode()).hexdigest()}"


def role_at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


class Accounts:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings

    # --- users ------------------------------------------------------------------------------------

    def create(self, username: str, password: str, role: str, display_name: str, teams: list[str]) -> Account:
        if len(password) < MIN_PASSWORD_CHARS:
            raise AuthError(texts.password_too_short(MIN_PASSWORD_CHARS), 400)
        if role not in ROLES:
            raise AuthError(texts.unknown_role(role), 400)
        account = Account(
            username=username,
            display_name=display_name,
            role=role,
            teams=teams,
            password_hash=_hasher.hash(password),
        )
        if not self.redis.set(_user_key(username), account.model_dump_json(), nx=True):
            raise AuthError(texts.account_exists(username), 409)
        return account

    def get(self, username: str) -> Account | None:
        raw = self.redis.get(_user_key(username))
        return Account.model_validate_json(raw) if raw else None

    def all(self) -> list[Account]:
        accounts = [self.get(key.split(":", 2)[2]) for key in self.redis.scan_iter(f"{PREFIX}:user:*")]
        return sorted((a for a in accounts if a), key=lambda a: a.username)

    def delete(self, username: str) -> None:
        self.redis.delete(_user_key(username))

    # --- login ------------------------------------------------------------------------------------

    def _fail_keys(self, username: str, ip: str) -> list[str]:
        return [f"{PREFIX}:loginfail:user:{username.lower()}", f"{PREFIX}:loginfail:ip:{ip}"]

    def _locked(self, username: str, ip: str) -> bool:
        limit = self.settings.console_max_failed_logins
        counts = self.redis.mget(self._fail_keys(username, ip))
        user_fails = int(counts[0] or 0)
        ip_fails = int(counts[1] or 0)
        return user_fails >= limit or ip_fails >= 4 * limit  # one office shares an IP: be kinder there

    def login(self, username: str, password: str, ip: str) -> tuple[str, Session, Account]:
        if self._locked(username, ip):
            raise AuthError(texts.too_many_logins(self.settings.console_lockout_s // 60), 429)
        account = self.get(username) if len(username) <= 40 else None
        try:
            _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
            if account is None:
                raise VerificationError("unknown user")
        except (VerificationError, InvalidHashError):
            pipe = self.redis.pipeline()
            for key in self._fail_keys(username, ip):
                pipe.incr(key)
                pipe.expire(key, self.settings.console_lockout_s)
            pipe.execute()
            raise AuthError(texts.WRONG_LOGIN) from None
        assert account is not None
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = _hasher.hash(password)
            self.redis.set(_user_key(account.username), account.model_dump_json())
        self.redis.delete(self._fail_keys(username, ip)[0])
        token = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(username=account.username, csrf=secrets.token_urlsafe(32), created=now, last_seen=now)
        self.redis.set(_session_key(token), session.model_dump_json(), ex=self.settings.console_idle_timeout_s)
        return token, session, account

    def session(self, token: str | None) -> tuple[Session, Account] | None:
        """The live session for a cookie value, sliding its idle timeout; None when expired or unknown."""
        if not token or len(token) > 200:
            return None
        key = _session_key(token)
        raw = self.redis.get(key)
        if not raw:
            return None
        session = Session.model_validate_json(raw)
        now = time.time()
        remaining = self.settings.console_session_ttl_s - (now - session.created)
        account = self.get(session.username)
        if remaining <= 0 or account is None:
            self.redis.delete(key)
            return None
        session.last_seen = now
        ttl = int(min(self.settings.console_idle_timeout_s, remaining)) or 1
        self.redis.set(key, session.model_dump_json(), ex=ttl)
        return session, account

    def logout(self, token: str | None) -> None:
        if token:
            self.redis.delete(_session_key(token))


# --- FastAPI dependencies ------------------------------------------------------------------------


def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


class Staff(BaseModel):
    """The signed-in staff member of this request."""

    account: Account
    session: Session

    @property
    def member(self) -> StaffMember:
        return self.account.member()


def current_staff(request: Request, accounts: Annotated[Accounts, Depends(get_accounts)]) -> Staff:
    found = accounts.session(request.cookies.get(COOKIE))
    if found is None:
        raise HTTPException(401, texts.PLEASE_SIGN_IN)
    session, account = found
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HTTPException(403, texts.CSRF_FAILED)
    return Staff(account=account, session=session)


def require(role: str):  # noqa: ANN201 - returns a FastAPI dependency
    def dependency(staff: Annotated[Staff, Depends(current_staff)]) -> Staff:
        if not role_at_least(staff.account.role, role):
            raise HTTPException(403, texts.NOT_PERMITTED)
        return staff

    return dependency


def demo_accounts(accounts: Accounts, settings: Settings) -> list[tuple[str, str, str]]:
    """Demo accounts with fresh random passwords (never a fixed default), written for the demo operator."""
    created: list[tuple[str, str, str]] = []
    plan = [
        ("agent", "agent", "Frau Berger", ["buergerbuero", "buergerservice"]),
        ("kfz", "agent", "Herr Yılmaz", ["kfz"]),
        ("supervisor", "supervisor", "Frau Schneider", []),
        ("admin", "admin", "IT-Administration", []),
    ]
    for username, role, name, teams in plan:
        if accounts.get(username):
            continue
        password = secrets.token_urlsafe(12)
        accounts.create(username, password, role, name, teams)
        created.append((username, role, password))
    if created:
        path = settings.data_dir / "console-demo-accounts.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{u}\t{r}\t{p}" for u, r, p in created]
        with open(path, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        path.chmod(0o600)
    return created


def session_info(staff: Staff) -> dict[str, object]:
    return {
        "username": staff.account.username,
        "display_name": staff.account.display_name,
        "role": staff.account.role,
        "teams": staff.account.teams,
        "csrf": staff.session.csrf,
    }


def dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False)
