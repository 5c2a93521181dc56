"""Who may call what: every API and console route against every role, with exact statuses.

The matrix below is the access policy. A route the app serves that the matrix does not list
fails `test_every_route_is_in_the_matrix`, so a new endpoint cannot ship without a decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from crm_core.enums import Role
from omnicrm.app import create_app
from tests.conftest import Harness, make_settings
from tests.fakes import updates
from tests.fakes.telegram import FakeTelegram
from tests.handoff.console_helpers import ConsoleUser, console_user

AGENT, SUPERVISOR, ADMIN = Role.AGENT, Role.SUPERVISOR, Role.ADMIN
ROLES = (AGENT, SUPERVISOR, ADMIN)
PUBLIC = None
UNKNOWN_ID = "0" * 32  # well-formed, never issued

# (method, path) -> the least role that may call it; PUBLIC: no API key (own auth, if any).
API: dict[tuple[str, str], Role | None] = {
    ("GET", "/api/v1/customers"): AGENT,
    ("GET", "/api/v1/customers/{customer_id}"): AGENT,
    ("GET", "/api/v1/customers/{customer_id}/timeline"): AGENT,
    ("GET", "/api/v1/conversations/export"): SUPERVISOR,
    ("GET", "/api/v1/conversations"): AGENT,
    ("GET", "/api/v1/conversations/{conversation_id}"): AGENT,
    ("GET", "/api/v1/conversations/{conversation_id}/messages"): AGENT,
    ("GET", "/api/v1/messages"): AGENT,
    ("POST", "/api/v1/conversations/{conversation_id}/handoff"): AGENT,
    ("POST", "/api/v1/conversations/{conversation_id}/claim"): AGENT,
    ("POST", "/api/v1/conversations/{conversation_id}/messages"): AGENT,
    ("POST", "/api/v1/conversations/{conversation_id}/resolve"): AGENT,
    ("POST", "/api/v1/conversations/{conversation_id}/return-to-bot"): AGENT,
    ("POST", "/api/v1/conversations/{conversation_id}/snooze"): AGENT,
    ("POST", "/api/v1/conversations/{conversation_id}/unsnooze"): AGENT,
    ("GET", "/api/v1/queue"): AGENT,
    ("GET", "/api/v1/agents"): SUPERVISOR,
    ("PATCH", "/api/v1/agents/{agent_id}"): SUPERVISOR,
    ("GET", "/api/v1/messages/{message_id}/attachments/{index}"): AGENT,
    ("GET", "/api/v1/merge-suggestions"): AGENT,
    ("POST", "/api/v1/merge-suggestions/{suggestion_id}/dismiss"): SUPERVISOR,
    ("POST", "/api/v1/customers/{customer_id}/merge"): SUPERVISOR,
    ("GET", "/api/v1/customers/{customer_id}/merges"): AGENT,
    ("POST", "/api/v1/merges/{merge_id}/unmerge"): SUPERVISOR,
    ("GET", "/api/v1/services"): AGENT,
    ("POST", "/api/v1/services"): SUPERVISOR,
    ("PATCH", "/api/v1/services/{service_id}"): SUPERVISOR,
    ("GET", "/api/v1/staff"): AGENT,
    ("GET", "/api/v1/staff/{staff_id}"): AGENT,
    ("POST", "/api/v1/staff"): SUPERVISOR,
    ("PATCH", "/api/v1/staff/{staff_id}"): SUPERVISOR,
    ("POST", "/api/v1/staff/{staff_id}/time-off"): SUPERVISOR,
    ("DELETE", "/api/v1/staff/{staff_id}/time-off/{off_id}"): SUPERVISOR,
    ("GET", "/api/v1/holidays"): AGENT,
    ("POST", "/api/v1/holidays"): SUPERVISOR,
    ("DELETE", "/api/v1/holidays/{holiday_id}"): SUPERVISOR,
    ("GET", "/api/v1/availability"): AGENT,
    ("GET", "/api/v1/appointments"): AGENT,
    ("GET", "/api/v1/appointments/{appointment_id}"): AGENT,
    ("POST", "/api/v1/appointments"): AGENT,
    ("PATCH", "/api/v1/appointments/{appointment_id}"): AGENT,
    ("POST", "/api/v1/purchases"): SUPERVISOR,
    ("GET", "/api/v1/purchases"): AGENT,
    ("POST", "/api/v1/nlu/parse"): SUPERVISOR,
    ("GET", "/api/v1/tickets"): AGENT,
    ("GET", "/api/v1/tickets/{ticket_id}"): AGENT,
    ("POST", "/api/v1/tickets"): AGENT,
    ("PATCH", "/api/v1/tickets/{ticket_id}"): AGENT,
    ("GET", "/api/v1/faq"): AGENT,
    ("GET", "/api/v1/faq/match"): AGENT,
    ("GET", "/api/v1/faq/{key}"): AGENT,
    ("POST", "/api/v1/faq"): SUPERVISOR,
    ("PATCH", "/api/v1/faq/{key}"): SUPERVISOR,
    ("DELETE", "/api/v1/faq/{key}"): SUPERVISOR,
    ("GET", "/api/v1/api-keys"): ADMIN,
    ("POST", "/api/v1/api-keys"): ADMIN,
    ("DELETE", "/api/v1/api-keys/{key_id}"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/metrics/summary"): SUPERVISOR,
    ("GET", "/api/v1/customers/{customer_id}/export"): ADMIN,
    ("POST", "/api/v1/customers/{customer_id}/erase"): ADMIN,
    ("GET", "/api/v1/conversations/{conversation_id}/reviews"): SUPERVISOR,
    ("POST", "/api/v1/conversations/{conversation_id}/reviews"): SUPERVISOR,
    ("POST", "/api/v1/messages/{message_id}/correction"): SUPERVISOR,
    ("GET", "/api/v1/nlu/corrections"): SUPERVISOR,
}

# Console pages: the least role that may open them (a session cookie, not an API key).
CONSOLE: dict[tuple[str, str], Role | None] = {
    ("GET", "/console"): PUBLIC,  # the login form, or the list once logged in
    ("POST", "/console/login"): PUBLIC,
    ("GET", "/console/language"): PUBLIC,
    ("POST", "/console/logout"): AGENT,
    ("POST", "/console/logout-everywhere"): AGENT,
    ("POST", "/console/availability"): AGENT,
    ("GET", "/console/queue"): AGENT,
    ("GET", "/console/queue/fragment"): AGENT,
    ("GET", "/console/conversations/{conversation_id}"): AGENT,
    ("GET", "/console/conversations/{conversation_id}/fragment"): AGENT,
    ("POST", "/console/conversations/{conversation_id}/{action}"): AGENT,
    ("GET", "/console/events"): AGENT,
    ("GET", "/console/dashboard"): SUPERVISOR,
    ("GET", "/console/export"): SUPERVISOR,
    ("GET", "/console/export/download"): SUPERVISOR,
    ("GET", "/console/dead-letters"): SUPERVISOR,
    ("POST", "/console/dead-letters/replay"): SUPERVISOR,
    ("GET", "/console/customers/{customer_id}"): AGENT,
    ("POST", "/console/customers/{customer_id}/export"): ADMIN,
    ("POST", "/console/customers/{customer_id}/erase"): ADMIN,
    (
        "POST",
        "/console/customers/{customer_id}/suggestions/{suggestion_id}/{decision}",
    ): SUPERVISOR,
    ("POST", "/console/customers/{customer_id}/merges/{merge_id}/unmerge"): SUPERVISOR,
    ("GET", "/console/merge-suggestions"): SUPERVISOR,
    ("GET", "/console/conversations/{conversation_id}/print"): SUPERVISOR,
    ("GET", "/console/conversations/{conversation_id}/transcript.pdf"): SUPERVISOR,
    ("POST", "/console/conversations/{conversation_id}/qa/review"): SUPERVISOR,
    ("POST", "/console/conversations/{conversation_id}/messages/{message_id}/correction"): (
        SUPERVISOR
    ),
}

# Served to anyone; each verifies its own signature or serves public assets.
OPEN = {
    # The web chat authenticates visitors with a per-session token, not an API key.
    ("POST", "/api/v1/webchat/sessions"),
    ("POST", "/api/v1/webchat/sessions/{session_id}/contact"),
    ("POST", "/api/v1/webchat/messages"),
    ("GET", "/api/v1/webchat/messages"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("POST", "/webhooks/telegram"),
    ("POST", "/webhooks/zalo"),
    ("POST", "/webhooks/twilio/sms"),
    ("POST", "/webhooks/twilio/status"),
    ("POST", "/webhooks/email"),
    ("GET", "/files/{file_id}"),  # a signed link
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("MOUNT", "/webchat/static"),
    ("GET", "/webchat"),
    ("MOUNT", "/console/static"),
    ("GET", "/"),
}


def _walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if type(route).__name__ == "_IncludedRouter":  # FastAPI's wrapper of include_router
            yield from _walk(route.original_router.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "path"):
            for method in sorted(getattr(route, "methods", None) or {"MOUNT"}):
                if method != "HEAD":
                    yield method, prefix + route.path


def served_routes() -> set[tuple[str, str]]:
    app = create_app(make_settings("sqlite+aiosqlite:///:memory:", "http://127.0.0.1:9"))
    return set(_walk(app.routes))


def test_every_route_is_in_the_matrix() -> None:
    served = served_routes()
    listed = set(API) | set(CONSOLE) | OPEN
    assert sorted(served - listed) == [], "new routes need a line in the access matrix"
    assert sorted(listed - served) == [], "the matrix lists routes the app no longer serves"


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), UNKNOWN_ID), path)


def _expected(required: Role | None, role: Role | None) -> int | None:
    """401 without credentials, 403 below the required role, None: allowed."""
    if required is None:
        return None
    if role is None:
        return 401
    return None if role.allows(required) else 403


def _api_verdict(
    method: str, template: str, required: Role | None, role: Role | None, got: int
) -> str | None:
    """What is wrong with status `got` for this caller, or None when it is right."""
    want = _expected(required, role)
    if want is not None:
        return None if got == want else f"{got}, want {want}"
    if got in (401, 403) or got >= 500:
        return f"{got}, want access"
    if method != "GET":
        return None  # an empty body: a 4xx about the body, never about access
    if "{" in template:  # an id nobody has: not found, for every allowed role
        return None if got == 404 else f"{got}, want 404"
    # 422: a list that needs a filter parameter (availability, FAQ match)
    return None if got in (200, 422) else f"{got}, want 200"


@pytest.fixture
async def keys(harness: Harness) -> dict[Role, str]:
    return {role: await harness.key(role) for role in ROLES}


async def _seed(harness: Harness) -> dict[str, str]:
    """Two customers, each with a conversation and messages; returns the first one's ids."""
    for update_id, user_id, text in ((501, 61001, "xin chào"), (502, 61002, "hello there")):
        await harness.telegram(updates.text_update(update_id, text, user_id=user_id))
    await harness.settle()
    listed = (await harness.get("/api/v1/conversations")).json()["items"]
    assert len(listed) == 2
    first = listed[0]
    return {"conversation_id": first["id"], "customer_id": first["customer_id"]}


async def test_api_routes_answer_each_role_exactly(
    harness: Harness, keys: dict[Role, str], fake_telegram: FakeTelegram
) -> None:
    await _seed(harness)
    failures: list[str] = []
    for (method, template), required in sorted(API.items()):
        path = _fill(template, {})
        for role in (None, *ROLES):
            headers = {"Authorization": f"Bearer {keys[role]}"} if role else {}
            kwargs: dict[str, Any] = {"headers": headers}
            if method in ("POST", "PATCH"):
                kwargs["json"] = {}
            response = await harness.client.request(method, path, **kwargs)
            problem = _api_verdict(method, template, required, role, response.status_code)
            if problem:
                failures.append(f"{method} {template} as {role}: {problem}")
    assert failures == [], "\n".join(failures)


async def test_real_objects_open_for_every_role(
    harness: Harness, keys: dict[Role, str], fake_telegram: FakeTelegram
) -> None:
    ids = await _seed(harness)
    for template in (
        "/api/v1/customers/{customer_id}",
        "/api/v1/customers/{customer_id}/timeline",
        "/api/v1/customers/{customer_id}/merges",
        "/api/v1/conversations/{conversation_id}",
        "/api/v1/conversations/{conversation_id}/messages",
    ):
        for role in ROLES:
            response = await harness.client.get(
                _fill(template, ids), headers={"Authorization": f"Bearer {keys[role]}"}
            )
            assert response.status_code == 200, (template, role, response.text)


async def test_one_customer_is_not_reachable_through_another(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    await harness.telegram(updates.text_update(601, "secret of Lan 0912345678", user_id=62001))
    await harness.telegram(updates.text_update(602, "hello from Binh", user_id=62002))
    await harness.settle()
    conversations = (await harness.get("/api/v1/conversations")).json()["items"]
    by_text: dict[str, dict[str, Any]] = {}
    for conversation in conversations:
        messages = await harness.get(f"/api/v1/conversations/{conversation['id']}/messages")
        texts = " ".join(m["text"] for m in messages.json()["items"])
        by_text["lan" if "secret of Lan" in texts else "binh"] = conversation
    lan, binh = by_text["lan"], by_text["binh"]
    assert lan["customer_id"] != binh["customer_id"]
    for path, params in (
        (f"/api/v1/customers/{binh['customer_id']}", {}),
        (f"/api/v1/customers/{binh['customer_id']}/timeline", {}),
        (f"/api/v1/conversations/{binh['id']}", {}),
        (f"/api/v1/conversations/{binh['id']}/messages", {}),
        ("/api/v1/messages", {"customer_id": binh["customer_id"]}),
        ("/api/v1/messages", {"conversation_id": binh["id"]}),
        ("/api/v1/conversations", {"customer_id": binh["customer_id"]}),
        ("/api/v1/appointments", {"customer_id": binh["customer_id"]}),
        ("/api/v1/tickets", {"customer_id": binh["customer_id"]}),
    ):
        response = await harness.get(path, **params)
        assert response.status_code == 200, (path, response.text)
        body = response.text
        assert "secret of Lan" not in body and "0912345678" not in body, path
        assert lan["customer_id"] not in body and lan["id"] not in body, path


async def _console_users(harness: Harness) -> dict[Role, ConsoleUser]:
    return {role: await console_user(harness, role) for role in ROLES}


async def test_console_routes_answer_each_role_exactly(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    ids = await _seed(harness)
    users = await _console_users(harness)
    failures: list[str] = []
    for (method, template), required in sorted(CONSOLE.items()):
        if required is None or template == "/console/events":  # SSE: a stream, checked below
            continue
        for role in (None, *ROLES):
            path = _fill(template, {**ids, "action": "claim"})
            cookies = users[role].cookies if role else {}
            data = {"csrf": users[role].csrf} if role else {"csrf": "x"}
            if method == "GET":
                response = await harness.client.get(path, cookies=cookies)
            else:
                response = await harness.client.post(path, data=data, cookies=cookies)
            got = response.status_code
            if role is None:
                ok = got in (303, 401) if method == "GET" else got in (303, 403)
                if not ok:
                    failures.append(f"{method} {template} anonymous: {got}")
            elif not role.allows(required):
                if got != 403:
                    failures.append(f"{method} {template} as {role}: {got}, want 403")
            elif got in (401, 403) or got >= 500:
                failures.append(f"{method} {template} as {role}: {got}, want access")
            elif method == "GET" and got != 200:
                failures.append(f"{method} {template} as {role}: {got}, want 200")
    assert failures == [], "\n".join(failures)


async def test_console_unknown_objects_are_404_for_everyone(
    harness: Harness, fake_telegram: FakeTelegram
) -> None:
    users = await _console_users(harness)
    for (method, template), required in sorted(CONSOLE.items()):
        if method != "GET" or "{" not in template or template.endswith("/fragment"):
            continue
        for role in ROLES:
            if required is not None and not role.allows(required):
                continue
            response = await harness.client.get(_fill(template, {}), cookies=users[role].cookies)
            assert response.status_code == 404, (template, role, response.status_code)
