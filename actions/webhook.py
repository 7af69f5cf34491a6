"""The rasa_sdk action webhook, mounted in the gateway so the knowledge index is loaded once."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionMissingDomainException, ActionNotFoundException

from actions.knowledge_actions import build_actions
from knowledge.answering import Answerer

router = APIRouter(tags=["rasa"], include_in_schema=False)


def build_executor(answerer: Answerer) -> ActionExecutor:
    executor = ActionExecutor()
    for action in build_actions(answerer):
        executor.register_action(action)
    return executor


@router.post("/webhooks/actions")
async def run_action(request: Request) -> dict[str, Any] | None:
    executor: ActionExecutor = request.app.state.action_executor
    try:
        action_call = await request.json()
    except ValueError as exc:
        raise HTTPException(400, "invalid JSON") from exc
    if not isinstance(action_call, dict):
        raise HTTPException(400, "expected an action call object")
    try:
        result = await executor.run(action_call)
    except ActionNotFoundException as exc:
        raise HTTPException(404, exc.message) from exc
    except (ActionExecutionRejection, ActionMissingDomainException) as exc:
        raise HTTPException(400, exc.message) from exc
    return result.model_dump() if result else None
