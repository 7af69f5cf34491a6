"""Rate limits kept in Redis, so they hold across all gateway processes (never in process memory).

Why a sliding-window log in one Lua script:
- A fixed window lets a client send twice the limit around a window boundary; the log counts
  exactly the requests of the last `window` seconds.
- Several limits (per conversation and per IP) are checked and recorded in one atomic step: a
  refused request counts against none of them, so a citizen who waits gets through again, and a
  flood cannot push the block further and further into the future.
- The clock is Redis' own (`TIME`), so gateways with slightly different clocks agree.
If Redis cannot be reached the request is let through (logged): the conversation itself needs
Redis anyway and will fail with its own, clearer error.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from dataclasses import dataclass

import redis
from fastapi import HTTPException, Request

from bot.conversation.store import PREFIX
from bot.settings import Settings
from wording import texts

log = logging.getLogger(__name__)

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local retry = tonumber(oldest[2]) + window - now
    if retry < 1 then retry = 1 end
    if retry > wait then wait = retry end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    """At most `limit` requests per `window_s` for one subject (a conversation, an IP, an API key)."""

    scope: str
    subject: str
    limit: int
    window_s: int

    @property
    def key(self) -> str:
        # subjects come from clients (path parameters): long ones are hashed to keep keys small
        subject = self.subject if len(self.subject) <= 120 else hashlib.sha256(self.subject.encode()).hexdigest()
        return f"{PREFIX}:rl:{self.scope}:{subject}"


class RateLimited(HTTPException):
    """429 with a friendly German text and Retry-After (whole seconds, at least 1)."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(429, texts.RATE_LIMITED, headers={"Retry-After": str(self.retry_after_s)})


class RateLimiter:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self._script = client.register_script(_SCRIPT)

    def _limit(self, scope: str, subject: str, limit: int) -> Limit:
        return Limit(scope, subject, limit, self.settings.rate_limit_window_s)

    def conversation(self, conversation_id: str) -> Limit:
        return self._limit("conv", conversation_id, self.settings.rate_limit_per_conversation)

    def ip(self, address: str) -> Limit:
        return self._limit("ip", address, self.settings.rate_limit_per_ip)

    def partner(self, name: str) -> Limit:
        return self._limit("partner", name, self.settings.rate_limit_per_partner_key)

    def wait_s(self, *limits: Limit) -> float:
        """Record one request against all limits and return 0, or refuse it and return seconds to wait."""
        active = [lim for lim in limits if lim.limit > 0]
        if not active:
            return 0.0
        args: list[str | int] = [uuid.uuid4().hex]
        for lim in active:
            args += [lim.limit, lim.window_s * 1000]
        try:
            wait_ms = int(self._script(keys=[lim.key for lim in active], args=args))
        except redis.RedisError as exc:
            log.warning("rate limit not checked (redis): %s", exc)
            return 0.0
        return wait_ms / 1000

    def enforce(self, *limits: Limit) -> None:
        """Raise RateLimited (HTTP 429) when any limit is exhausted."""
        wait = self.wait_s(*limits)
        if wait > 0:
            log.info("rate limited: %s", ", ".join(f"{lim.scope}" for lim in limits))
            raise RateLimited(wait)


def _limiter(request: Request) -> RateLimiter | None:
    return getattr(request.app.state, "limiter", None)


def _peer(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit_per_ip(request: Request) -> None:
    """FastAPI dependency: requests per client IP (e.g. `POST /api/ask`)."""
    limiter = _limiter(request)
    if limiter is not None:
        limiter.enforce(limiter.ip(_peer(request)))


def limit_per_conversation_and_ip(request: Request) -> None:
    """FastAPI dependency for routes with a `{conversation_id}`: per conversation and per client IP."""
    limiter = _limiter(request)
    if limiter is None:
        return
    conversation_id = str(request.path_params.get("conversation_id", ""))
    limiter.enforce(limiter.conversation(conversation_id), limiter.ip(_peer(request)))
