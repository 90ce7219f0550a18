"""The App Home tab: opening it publishes the person's to-do list, with Done buttons
(``views.publish`` for the verified ``event.user``)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.service import RPCError

from schemas.errors import RuleViolation
from starter.errors import CommandError, describe
from starter.slack.answers import home_view, problem_view
from starter.slack.deps import SlackAppDeps
from starter.todo import todo_for


def register(app: AsyncApp, deps: SlackAppDeps) -> None:
    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        await publish_home(client, deps, str(event.get("user", "")))


async def publish_home(
    client: AsyncWebClient, deps: SlackAppDeps, user: str, notice: str | None = None
) -> None:
    """Publish ``user``'s to-do list on their App Home, ``notice`` above it."""
    try:
        todo = await todo_for(deps.client, user, deps.now())
    except (CommandError, RPCError, RuleViolation) as err:
        # The tab still says something: why the list is not there, as the CLI would.
        problem = err.message if isinstance(err, RuleViolation) else describe(err)
        await _publish(client, deps, user, problem_view(problem, notice))
        return
    if await _publish(client, deps, user, home_view(todo, notice)):
        deps.log.info("slack.home.published", user=user, steps=len(todo.items))


async def _publish(
    client: AsyncWebClient, deps: SlackAppDeps, user: str, view: dict[str, Any]
) -> bool:
    # Slack refusing the tab (a revoked token, the Home tab turned off) leaves no one to tell:
    # a warning naming Slack's error, not a failed listener with its tracebacks.
    try:
        await client.views_publish(user_id=user, view=view)
    except SlackApiError as err:
        deps.log.warning("slack.home.not_published", user=user, error=err.response.get("error"))
        return False
    return True
