"""Slack users as agents: the explicit `Agent.slack_user_id` first, else the same e-mail."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select

from crm_core.db import Database
from crm_core.models import Agent
from handoff.service import Actor

log = logging.getLogger(__name__)


async def agent_of(db: Database, client: AsyncWebClient, user_id: str) -> tuple[Agent | None, str]:
    """The active console agent behind a Slack user (or None) and the user's display name."""
    async with db.reading() as session:
        linked = await session.scalar(
            select(Agent).where(Agent.slack_user_id == user_id, Agent.active.is_(True))
        )
    if linked is not None:
        return linked, linked.name or user_id
    user = await _user_info(client, user_id)
    profile = user.get("profile") or {}
    name = user.get("real_name") or profile.get("real_name") or user.get("name") or user_id
    email = (profile.get("email") or "").strip().lower()
    if not email:
        return None, str(name)
    async with db.reading() as session:
        agent = await session.scalar(
            select(Agent).where(func.lower(Agent.email) == email, Agent.active.is_(True))
        )
    return agent, str(agent.name if agent is not None and agent.name else name)


async def actor_for(db: Database, client: AsyncWebClient, user_id: str) -> Actor:
    """Who a Slack click, reply or command acts as: the mapped agent, else the Slack user."""
    agent, name = await agent_of(db, client, user_id)
    if agent is not None:
        return Actor(type="agent", id=agent.id, name=agent.name or name, agent_id=agent.id)
    return Actor(type="slack", id=user_id, name=name)


async def display_name(client: AsyncWebClient, user_id: str) -> str:
    """A mentioned user's name, for replies that reach the customer as plain text."""
    user = await _user_info(client, user_id)
    return str(user.get("real_name") or user.get("name") or "")


async def _user_info(client: AsyncWebClient, user_id: str) -> dict[str, Any]:
    try:
        info = await client.users_info(user=user_id)
    except SlackApiError as error:
        log.warning("users.info failed for %s: %s", user_id, error.response.get("error"))
        return {}
    return dict(info.get("user") or {})
