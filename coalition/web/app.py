"""The review service: each organisation's private page and the coordinator's dashboard (Starlette, Jinja).

Pages are rendered on the server and work without JavaScript. Every token page is reached only through a signed
link (records/links.py); forms carry a CSRF token bound to a cookie and to the link; failed link lookups are rate
limited per address; responses forbid framing, scripts and Referer; every error is a page, never a traceback.
"""

from __future__ import annotations

import collections
import logging
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import CoalitionError, DataError, Problems
from ..records.approvals import Action, State
from ..records.links import LinkRecord, dashboard_token, find_organisation, form_token, is_dashboard_token
from ..records.links import load_secret, read_links, review_links
from .. import usecases
from . import pages

HERE = Path(__file__).parent
CAMPAIGN_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
LANGUAGE = re.compile(r"[a-z]{2,3}\Z")
COOKIE = "coalition_form"
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
]
FORM_LIMIT = 32 * 1024  # the longest comment is 4000 characters: no honest form comes near this
TOKEN_IN_PATH = re.compile(r"/(review/[^/]+|dashboard)/[^/?]+")
log = logging.getLogger("coalition.web")


@dataclass(frozen=True)
class Settings:
    """What the service serves and how."""

    root: Path
    out: Path
    secret: bytes
    base_url: str
    failed_lookup_limit: int = 20  # per address and window; then 429 until the window has passed
    failed_lookup_window: float = 600.0


class FailedLookups:
    """Failed link lookups per client address over a sliding window."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.failures: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        """Whether `address` has failed too often lately."""
        with self.lock:
            failures = self.failures[address]
            while failures and failures[0] < time.monotonic() - self.window:
                failures.popleft()
            return len(failures) >= self.limit

    def add(self, address: str) -> None:
        """Count one failure."""
        with self.lock:
            self.failures[address].append(time.monotonic())


def create_app(settings: Settings) -> SecurityHeaders:
    """The ASGI application."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    environment.globals.update(State=State)
    failed = FailedLookups(settings.failed_lookup_limit, settings.failed_lookup_window)

    def page(request: Request, name: str, code: int = 200, **values) -> Response:
        cookie = request.cookies.get(COOKIE) or secrets.token_urlsafe(24)
        scope = values.get("scope", "")
        html = environment.get_template(name).render(
            **values, csrf=form_token(settings.secret, cookie, scope) if scope else "")
        response = Response(html, status_code=code, media_type="text/html; charset=utf-8")
        if request.cookies.get(COOKIE) != cookie:
            response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict", path="/",
                                secure=settings.base_url.startswith("https://"))
        return response

    def client(request: Request) -> str:
        return request.client.host if request.client else ""

    def campaign_of(request: Request) -> str:
        campaign_id = request.path_params["campaign"]
        known = CAMPAIGN_ID.match(campaign_id) and (settings.root / "letters" / campaign_id / "campaign.yaml").is_file()
        if not known:
            raise HTTPException(404, "There is no such campaign.")
        return campaign_id

    def link_of(request: Request) -> tuple[str, LinkRecord]:
        """The campaign and the link record of a review URL; 403 for a wrong or revoked token, 429 when blocked."""
        if failed.blocked(client(request)):
            raise HTTPException(429, "Too many wrong links were tried from your address. Wait a few minutes, then "
                                     "open the link from your e-mail again.")
        campaign_id = request.path_params["campaign"]
        found = None
        if CAMPAIGN_ID.match(campaign_id) and (settings.root / "letters" / campaign_id).is_dir():
            found = find_organisation(settings.secret, settings.root / "letters" / campaign_id, campaign_id,
                                      request.path_params["token"])
        if found is None:
            failed.add(client(request))
            raise HTTPException(403, "This link does not open anything: it is mistyped, was revoked, or was replaced "
                                     "by a newer one. Ask the coordinator for your organisation's current link.")
        return campaign_id, found

    def dashboard_of(request: Request) -> None:
        if failed.blocked(client(request)):
            raise HTTPException(429, "Too many wrong links were tried from your address. Wait a few minutes.")
        if not is_dashboard_token(settings.secret, request.path_params["token"]):
            failed.add(client(request))
            raise HTTPException(403, "This is not the dashboard's link. 'coalition serve' prints it when it starts.")

    async def check_form(request: Request, scope: str) -> dict:
        """The posted form, once its CSRF token matches the cookie and the link; 403 otherwise."""
        form = await read_form(request)
        cookie = request.cookies.get(COOKIE, "")
        expected = form_token(settings.secret, cookie, scope)
        if not cookie or not secrets.compare_digest(form.get("csrf", "").encode(), expected.encode()):
            raise HTTPException(403, "This form was not sent from your page, or the page is too old. Reload the "
                                     "page and send the form again.")
        return form

    async def home(request: Request) -> Response:
        return page(request, "home.html.j2", title="Coalition letters: review")

    async def review(request: Request) -> Response:
        campaign_id, link = link_of(request)
        language = request.path_params.get("language")
        try:
            view = await run_in_threadpool(pages.review_page, settings.root, settings.out, campaign_id, link)
        except pages.NotSigning as error:
            raise HTTPException(403, str(error)) from None
        if language is None:
            return page(request, "review.html.j2", title=f"Review: {view.subject}", view=view, current=None,
                        scope=link.id, token=request.path_params["token"], done=request.query_params.get("done"))
        current = view.language(language)
        if current is None:
            raise HTTPException(404, "This letter has no text in that language.")
        return page(request, "review.html.j2", title=f"Review ({current.name}): {view.subject}", view=view,
                    current=current, scope=link.id, token=request.path_params["token"],
                    done=request.query_params.get("done"))

    async def review_action(request: Request) -> Response:
        campaign_id, link = link_of(request)
        form = await check_form(request, link.id)
        language = request.path_params["language"]
        if form.get("organisation") != link.organisation:
            raise HTTPException(403, f"This link belongs to {link.organisation}: it cannot act for "
                                     f"{form.get('organisation') or 'another organisation'}. Nothing was recorded.")
        actions = {"approve": Action.APPROVED, "request-changes": Action.CHANGES_REQUESTED,
                   "withdraw": Action.WITHDRAWN}
        if form.get("action") not in actions:
            raise HTTPException(400, "Unknown action: use the buttons on the page.")
        try:
            await run_in_threadpool(  # the history's lock may wait: never in the event loop
                pages.act, settings.root, settings.out, campaign_id, link, language, actions[form["action"]],
                form.get("proof", ""), form.get("name", ""), form.get("role", ""), form.get("comment", ""),
                client(request), request.headers.get("user-agent", ""))
        except pages.ProofChanged as error:
            raise HTTPException(409, str(error)) from None
        except pages.NotSigning as error:
            raise HTTPException(403, str(error)) from None
        except DataError:
            raise
        except CoalitionError as error:
            raise HTTPException(400, f"Nothing was recorded: {error}.") from None
        return RedirectResponse(f"{request.url.path}?done={form['action']}", status_code=303)

    async def preview(request: Request) -> Response:
        campaign_id, _ = link_of(request)
        proof_id, number = request.path_params["proof"], request.path_params["page"]
        pdf = pages.proof_pdf(settings.out, campaign_id, proof_id)
        if not re.fullmatch(r"[a-z]{2,3}-[0-9a-f]{10}", proof_id) or not pdf.is_file():
            raise HTTPException(404, "There is no such proof.")
        if number.endswith(".pdf") and number == f"{campaign_id}-proof-{proof_id}.pdf":
            return Response(pdf.read_bytes(), media_type="application/pdf",
                            headers={"content-disposition": f'attachment; filename="{number}"'})
        match = re.fullmatch(r"page-([0-9]{1,3})\.png", number)
        image = await run_in_threadpool(pages.page_png, pdf, int(match.group(1)) - 1) if match else None
        if image is None:
            raise HTTPException(404, "There is no such page.")
        return Response(image, media_type="image/png")

    async def dashboard(request: Request) -> Response:
        dashboard_of(request)
        campaigns = sorted(path.parent.name for path in (settings.root / "letters").glob("*/campaign.yaml")
                           if CAMPAIGN_ID.match(path.parent.name))
        return page(request, "campaigns.html.j2", title="Campaigns", campaigns=campaigns,
                    token=request.path_params["token"])

    async def dashboard_campaign(request: Request) -> Response:
        dashboard_of(request)
        campaign_id = campaign_of(request)
        try:
            status = await run_in_threadpool(usecases.status, campaign_id, settings.root, settings.out)
        except DataError as error:
            return page(request, "problems.html.j2", title=f"{campaign_id}: data problems",
                        campaign=campaign_id, problems=error.problems, token=request.path_params["token"])
        campaign, _ = await run_in_threadpool(pages.open_campaign, settings.root, campaign_id)
        links = review_links(campaign, settings.secret, settings.base_url,
                             read_links(campaign.folder, Problems(settings.root)))
        return page(request, "dashboard.html.j2", title=f"Dashboard: {status.subject}", status=status,
                    links=links, token=request.path_params["token"])

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        titles = {400: "Not recorded", 403: "Not allowed", 404: "Not found", 405: "Not allowed", 409:
                  "The text changed", 413: "Not recorded", 415: "Not recorded", 429: "Too many attempts"}
        generic = error.detail in ("Not Found", "Method Not Allowed")  # Starlette's own words for a wrong address
        detail = "There is nothing at this address." if generic else error.detail
        return page(request, "error.html.j2", code=error.status_code, title=titles.get(error.status_code, "Error"),
                    message=detail, reload=error.status_code == 409)

    async def data_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, DataError)
        log.error("data problems: %s", "; ".join(str(problem) for problem in error.problems))
        return page(request, "error.html.j2", code=503, title="Not available right now",
                    message="The campaign's data has a problem, so this page cannot be shown. The coordinator "
                            "can see what it is with 'coalition check'. Please try again later.", reload=False)

    async def server_error(request: Request, error: Exception) -> Response:
        log.error("unexpected error serving %s: %s: %s (the visitor was shown an error page; 'coalition serve "
                  "--debug' logs the traceback for a bug report)", TOKEN_IN_PATH.sub(r"/\1/…", request.url.path),
                  type(error).__name__, error)
        log.debug("the traceback", exc_info=error)
        return page(request, "error.html.j2", code=500, title="Something went wrong",
                    message="The page could not be made. Nothing was recorded. Please try again later; if it "
                            "keeps happening, tell the coordinator.", reload=False)

    routes = [
        Route("/", home),
        Route("/review/{campaign}/{token}", review),
        Route("/review/{campaign}/{token}/{language}", review),
        Route("/review/{campaign}/{token}/{language}", review_action, methods=["POST"]),
        Route("/review/{campaign}/{token}/proofs/{proof}/{page}", preview),
        Route("/dashboard/{token}", dashboard),
        Route("/dashboard/{token}/{campaign}", dashboard_campaign),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error, DataError: data_error,
                                                       Exception: server_error})
    return SecurityHeaders(app)


async def read_form(request: Request) -> dict[str, str]:
    """A small URL-encoded form: each field once, at most FORM_LIMIT bytes; 400, 413 or 415 otherwise."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "Send the form from the page.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise HTTPException(413, "The form is too long: shorten the comment.")
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
                                       max_num_fields=12)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "The form could not be read. Reload the page and send it again.") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise HTTPException(400, "The form names a field twice. Reload the page and send it again.")
    return form


class SecurityHeaders:
    """ASGI middleware: security headers on every response, and an access log without tokens."""

    def __init__(self, app: Callable):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = []

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", [])
                           if name.lower() not in {name for name, _ in SECURITY_HEADERS}]
                message = {**message, "headers": headers + SECURITY_HEADERS}
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not status:  # nothing answered yet: the server answers and logs it
                raise
            # Starlette raises again after its error page went out, for servers to log: server_error has logged
            # it in one line, and uvicorn would add a traceback the coordinator cannot act on
        path = TOKEN_IN_PATH.sub(r"/\1/…", scope["path"])  # the token never reaches the log
        log.info("%s %s %s", scope["method"], path, status[0] if status else "-")


def serve(root: Path, out: Path, host: str, port: int, base_url: str, secret_file: Path,
          announce: Callable[[str], object] = print, debug: bool = False) -> None:
    """Run the service until interrupted, after printing the dashboard's link."""
    import uvicorn

    if not (root / "letters").is_dir():
        raise CoalitionError(f"{root} holds no letters/ folder: --root names the project folder")
    settings = Settings(root.resolve(), out.resolve(), load_secret(secret_file, root), base_url.rstrip("/"))
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    announce(f"Serving {settings.root} on http://{host}:{port} (links use {settings.base_url})")
    announce(f"Coordinator's dashboard: {settings.base_url}/dashboard/{dashboard_token(settings.secret)}")
    # X-Forwarded-For is believed only from this machine: a TLS reverse proxy on it gives the client's address
    uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_level="warning",
                server_header=False, proxy_headers=True, forwarded_allow_ips="127.0.0.1")
