"""What every console page needs: the signed-in agent, CSRF checks, rendering with CSP.

Routes live in small modules (pages, queue, conversation, live); they share one `Console`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from crm_core.db import Database
from crm_core.enums import Role
from crm_core.models import Agent
from handoff import service
from handoff.console.dead_letter_source import DeadLetterSource
from handoff.console.i18n import choose_language, translator
from handoff.console.sessions import COOKIE, SessionSigner
from handoff.console.timeline import duration, local_time

HERE = Path(__file__).parent
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; form-action 'self'"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["duration"] = duration
    return env


def runtime_timezone(request: Request) -> str:
    """OMNICRM_TIMEZONE of the running app (the default when the app has no runtime)."""
    return str(_setting(request, "timezone") or DEFAULT_TIMEZONE)


def _setting(request: Request, name: str) -> object:
    runtime = getattr(request.app.state, "runtime", None)
    return getattr(getattr(runtime, "settings", None), name, None)


@dataclass(frozen=True)
class Who:
    """The signed-in agent and the cookie that proves it (CSRF tokens derive from it)."""

    agent: Agent
    cookie: str

    @property
    def role(self) -> Role:
        return Role(self.agent.role)

    def at_least(self, role: Role) -> bool:
        """True when the signed-in user's role is `role` or above (agent < supervisor < admin)."""
        return self.role.allows(role)

    @property
    def actor(self) -> service.Actor:
        a = self.agent
        return service.Actor(type="agent", id=a.id, name=a.name, agent_id=a.id)


class Console:
    """Shared state of the console routes: database getter, cookie signer, templates."""

    def __init__(
        self,
        *,
        get_db: Callable[[Request], Database],
        signer: SessionSigner,
        secure_cookies: bool,
        on_reply: Callable[[Request], None],
        get_timezone: Callable[[Request], str],
        get_dead_letters: Callable[[Request], DeadLetterSource | None] = lambda _request: None,
    ) -> None:
        self.get_db = get_db
        self.signer = signer
        self.secure_cookies = secure_cookies
        self.on_reply = on_reply
        self.get_timezone = get_timezone
        self.get_dead_letters = get_dead_letters  # None: the bus is in-process, nothing dies
        self.env = templates()

    def tz(self, request: Request) -> ZoneInfo:
        return ZoneInfo(self.get_timezone(request))

    def render(
        self,
        request: Request,
        name: str,
        status_code: int = 200,
        *,
        who: Who | None = None,
        **context: object,
    ) -> HTMLResponse:
        tz = self.tz(request)
        lang = self.language(request)
        html = self.env.get_template(name).render(
            lang=lang,
            t=translator(lang),
            agent=who.agent if who else None,
            csrf=self.signer.csrf_token(who.cookie) if who else "",
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            when=lambda value, fmt="%Y-%m-%d %H:%M": local_time(value, tz, fmt),
            **context,
        )
        return HTMLResponse(
            html,
            status_code=status_code,
            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
        )

    def language(self, request: Request) -> str:
        """The reader's language (switcher cookie, browser, OMNICRM_DEFAULT_LANGUAGE)."""
        return choose_language(request, str(_setting(request, "default_language") or "vi"))

    def session_expired(self, request: Request) -> HTMLResponse:
        t = translator(self.language(request))
        return self.render(request, "login.html", status_code=403, error=t("session_expired"))

    def masks_contacts(self, request: Request, who: Who) -> bool:
        """True when phones and e-mails are to be shown masked to this user
        (OMNICRM_MASK_CONTACTS on, and the user is an agent)."""
        return bool(_setting(request, "mask_contacts")) and not who.at_least(Role.SUPERVISOR)

    def forbidden(self, request: Request, who: Who) -> HTMLResponse:
        """403 for a signed-in user whose role is below what the page needs."""
        return self.render(request, "forbidden.html", status_code=403, who=who)

    def not_found(self, request: Request, who: Who) -> HTMLResponse:
        return self.render(request, "missing.html", status_code=404, who=who)

    async def current(self, request: Request) -> Who | None:
        """The active agent behind the session cookie, or None (absent, forged, expired)."""
        cookie = request.cookies.get(COOKIE)
        session = self.signer.read(cookie)
        if session is None or cookie is None:
            return None
        async with self.get_db(request).reading() as db_session:
            agent = await db_session.get(Agent, session.agent_id)
        if agent is None or not agent.active:
            return None
        cutoff = agent.sessions_valid_after
        if cutoff is not None and session.issued_at <= int(cutoff.timestamp()):
            return None  # logged out everywhere after this cookie was issued
        return Who(agent, cookie)

    def csrf_ok(self, who: Who, token: str) -> bool:
        return self.signer.check_csrf(who.cookie, token)
