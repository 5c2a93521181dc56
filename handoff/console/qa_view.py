"""QA on the conversation page: reviews against the rubric, and flagging a misread bot turn.

Supervisors and admins review and flag; an agent reads only the reviews of conversations
assigned to them and never another agent's. The intents offered are the ones the NLU is
trained on, so a correction always names an intent the training data knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core import qa
from crm_core.enums import Role
from crm_core.models import Conversation, Message
from handoff.console.web import Console, Who
from nlu.builtin import shipped_training_data

SCORE_FIELD = "score_"
ITEM_KEYS = {
    "greeting": "conversation_qa_item_greeting",
    "understood_need": "conversation_qa_item_understood_need",
    "resolution": "conversation_qa_item_resolution",
    "tone": "conversation_qa_item_tone",
    "follow_up": "conversation_qa_item_follow_up",
}


@cache
def allowed_intents() -> tuple[str, ...]:
    """The intent names of the NLU's training data, sorted: what a correction may name."""
    return tuple(sorted(shipped_training_data().intents))


@dataclass(frozen=True)
class QaPanel:
    """The QA part of the page as this reader may see it."""

    reviews: list[qa.ReviewRow]
    visible: bool
    can_review: bool
    rubric: tuple[str, ...] = qa.RUBRIC

    def label(self, item: str) -> str:
        """The phrase key of a rubric item."""
        return ITEM_KEYS.get(item, item)


async def load_panel(session: AsyncSession, who: Who, conversation: Conversation) -> QaPanel:
    visible = qa.may_read_reviews(
        role=who.role, viewer_id=who.agent.id, assigned_agent_id=conversation.assigned_agent_id
    )
    reviews = await qa.reviews_of(session, conversation.id) if visible else []
    return QaPanel(reviews, visible, who.at_least(Role.SUPERVISOR))


def reviewer_of(who: Who) -> qa.Reviewer:
    return qa.Reviewer(actor_type="agent", actor_id=who.agent.id, agent_id=who.agent.id)


def form_scores(form: dict[str, str]) -> dict[str, object]:
    """`score_<item>` fields as numbers; anything unreadable stays as text and fails the check."""
    scores: dict[str, object] = {}
    for item in qa.RUBRIC:
        raw = form.get(SCORE_FIELD + item, "").strip()
        scores[item] = int(raw) if raw.isdigit() and len(raw) == 1 else raw
    return scores


def qa_router(console: Console) -> APIRouter:
    router = APIRouter()

    async def supervisor(request: Request, csrf: str) -> Who | Response:
        """The signed-in supervisor, or the response that refuses the request."""
        who = await console.current(request)
        if who is None:
            return RedirectResponse("/console", status_code=303)
        if not who.at_least(Role.SUPERVISOR):
            return console.forbidden(request, who)
        if not console.csrf_ok(who, csrf):
            return console.session_expired(request)
        return who

    @router.post("/conversations/{conversation_id}/qa/review")
    async def review(
        request: Request,
        conversation_id: str,
        csrf: Annotated[str, Form(max_length=128)],
        notes: Annotated[str, Form(max_length=qa.NOTES_MAX)] = "",
    ) -> Response:
        """Score the conversation on the rubric, with notes."""
        who = await supervisor(request, csrf)
        if not isinstance(who, Who):
            return who
        form = {key: str(value) for key, value in (await request.form()).items()}
        target = f"/console/conversations/{conversation_id}"
        try:
            async with console.get_db(request).transaction() as session:
                await qa.add_review(
                    session,
                    conversation_id,
                    scores=form_scores(form),
                    notes=notes,
                    reviewer=reviewer_of(who),
                )
        except LookupError:
            return console.not_found(request, who)
        except qa.QaError as exc:
            return RedirectResponse(f"{target}?error={exc.code}#qa", status_code=303)
        return RedirectResponse(f"{target}#qa", status_code=303)

    @router.post("/conversations/{conversation_id}/messages/{message_id}/correction")
    async def correction(
        request: Request,
        conversation_id: str,
        message_id: str,
        csrf: Annotated[str, Form(max_length=128)],
        intent: Annotated[str, Form(max_length=64)] = "",  # checked after the role, not before
    ) -> Response:
        """Flag the bot's reading of a customer message as wrong, with the right intent."""
        who = await supervisor(request, csrf)
        if not isinstance(who, Who):
            return who
        target = f"/console/conversations/{conversation_id}"
        try:
            async with console.get_db(request).transaction() as session:
                message = await session.get(Message, message_id)
                if message is None or message.conversation_id != conversation_id:
                    raise LookupError(message_id)
                await qa.flag_message(
                    session,
                    message_id,
                    correct_intent=intent,
                    allowed=allowed_intents(),
                    reviewer=reviewer_of(who),
                )
        except LookupError:
            return console.not_found(request, who)
        except qa.QaError as exc:
            return RedirectResponse(f"{target}?error={exc.code}", status_code=303)
        return RedirectResponse(f"{target}#m-{message_id}", status_code=303)

    return router
