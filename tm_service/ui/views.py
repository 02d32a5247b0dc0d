"""Routes of the review UI. Thin: read the form, call one service, render or redirect."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException, InternalServerError

from memory.authorization import ALLOWED, Action, Actor
from memory.errors import (
    ChecksFailed,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthorized,
)
from memory.models import Origin
from memory.review_models import Decision, SuggestionStatus
from memory.services import reuse as reuse_service
from memory.services import review_queue
from memory.services import suggestions as suggestion_service
from memory.services.pages import get_page, list_pages
from memory.services.regions import get_language, get_region, list_languages, list_regions
from memory.services.similarity import find_similar_pages
from memory.services.translation_memory import strip_markup
from memory.similarity_models import Job
from tm_service import region_jobs
from tm_service.api.suggestions import suggest_with_app_services
from tm_service.extensions import db
from tm_service.jobs import LEVERAGE, PRETRANSLATE, get_similarity_indexes, translations_changed
from tm_service.ui import security, workflow
from tm_service.ui.presentation import (
    TextLanguage,
    page_rows,
    region_language_codes,
    safe_url,
    target_languages,
    translation_rows,
)

log = logging.getLogger(__name__)

bp = Blueprint("ui", __name__, url_prefix="/ui")

PAGES_PAGE_SIZE = 50
SIMILAR_PAGES = 10
MAX_EDIT_LENGTH = 5000  # as the API's review schema
DECISION_WORDS = {"accept": "Accepted", "edit": "Saved your edit", "reject": "Rejected"}

# No inline script or style anywhere: the policy can forbid both. Nothing may frame the pages
# (keyboard shortcuts must not be clickjacked).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


# --------------------------------------------------------------------------- request plumbing


@bp.before_request
def _load_session() -> None:
    if request.method == "POST":
        security.check_csrf()
    actor, ended = security.session_actor()
    g.ui_actor = actor
    if ended:
        flash(ended, "error")


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Pages show drafts and the queue: never from a shared cache, always fresh after a decision.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    actor: Actor | None = g.get("ui_actor")
    return {
        "actor": actor,
        "csrf_field": security.CSRF_FIELD,
        "csrf_token": security.csrf_token,
        "can_review": actor is not None and actor.role in ALLOWED[Action.REVIEW],
        "can_write": actor is not None and actor.role in ALLOWED[Action.WRITE_CONTENT],
        # A region token's admin, or a global admin working on the region: may add languages.
        "can_manage": actor is not None and actor.role in ALLOWED[Action.MANAGE_REGION],
        "safe_url": safe_url,
    }


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    db.session.rollback()
    if isinstance(error, Unauthorized):
        return redirect(url_for("ui.sign_in"))
    return _error_page(error.status, error.title, error.detail)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    if error.code is None or error.code < 400:
        return error
    return _error_page(error.code, error.name, error.description or "")


@bp.errorhandler(Exception)
def _unexpected(error: Exception):
    db.session.rollback()
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return _error_page(500, InternalServerError().name, "Something went wrong; it has been logged.")


def _error_page(status: int, title: str, detail: str):
    return render_template("ui/error.html", status=status, title=title, detail=detail), status


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send a visitor without a valid session to the sign-in page (and back afterwards)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.ui_actor is None:
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("ui.sign_in", next=target))
        return view(*args, **kwargs)

    return wrapper


def _safe_next(target: str | None) -> str | None:
    # Only back into the UI: never an address on another site.
    if target and target.startswith("/ui/") and "\\" not in target and "//" not in target:
        return target
    return None


def _scope(actor: Actor) -> tuple[str | None, dict[str, str]]:
    """The region worked on, and the URL arguments that keep it (a global admin picks one)."""
    requested = request.values.get("region") or None
    if actor.region_slug is not None:
        if requested and requested != actor.region_slug:
            raise Forbidden(
                f"This token is scoped to region '{actor.region_slug}' and may not act on "
                f"region '{requested}'."
            )
        return actor.region_slug, {}
    return requested, ({"region": requested} if requested else {})


def _required_scope(actor: Actor) -> tuple[str, dict[str, str]]:
    """`_scope` for a form that acts on one region: a global admin must have picked it."""
    slug, scope = _scope(actor)
    if slug is None:
        raise InvalidInput("Choose a region first.", errors={"region": ["Required."]})
    return slug, scope


def _choose_region(endpoint: str):
    return render_template(
        "ui/choose_region.html", regions=list_regions(db.session), endpoint=endpoint
    )


def _int_field(name: str, value: str | None, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(
            f"'{name}' must be a number.", errors={name: ["Not a number."]}
        ) from None


# --------------------------------------------------------------------------- sign-in


@bp.route("/", methods=["GET", "POST"])
def sign_in():
    """Sign in with an API token; the session keeps the token's id, never its secret."""
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("ui/sign_in.html", next_url=next_url)
    token = request.form.get("token", "")
    actor = security.sign_in(token) if token.strip() else None
    if actor is None:
        error = (
            "Paste your token to sign in."
            if not token.strip()
            else "This token is unknown, expired or revoked. Check it, or ask your "
            "administrator for a new one."
        )
        return render_template("ui/sign_in.html", next_url=next_url, error=error), 401
    who = actor.name or f"{actor.role.value} token"
    flash(f"Signed in as {who} ({actor.region_slug or 'every region'}).", "success")
    return redirect(next_url or url_for("ui.review"))


@bp.post("/sign-out")
def sign_out():
    security.sign_out()
    flash("Signed out.", "success")
    return redirect(url_for("ui.sign_in"))


# --------------------------------------------------------------------------- review queue


@bp.get("/review")
@signed_in
def review():
    """The region's queue of pending segments in one target language."""
    return _render_review(g.ui_actor)


def _render_review(
    actor: Actor,
    *,
    problem: dict[str, Any] | None = None,
    status: int = 200,
    confirm_batch: bool = False,
):
    slug, scope = _scope(actor)
    if slug is None:
        return _choose_region("ui.review")
    region = get_region(db.session, slug)
    targets = target_languages(region)
    pending = suggestion_service.pending_counts(db.session, actor, slug)
    # --- review workflow: a language the region has not added yet (pre-translated into it)
    # has a queue too.
    known = {language.code for language in targets}
    for code in sorted(set(pending) - known):
        targets.append(TextLanguage.of(get_language(db.session, code)))
    # --- end review workflow
    counts = {language.code: pending.get(language.code, 0) for language in targets}
    language_code = request.values.get("language") or None
    page = request.values.get("page") or None
    offset = _int_field("offset", request.values.get("offset"), 0) or 0
    context: dict[str, Any] = {
        "region": region,
        "scope": scope,
        "targets": targets,
        "counts": counts,
        "language": None,
        "page": page,
        "offset": offset,
        "problem": problem,
        "confirm_batch": confirm_batch,
    }
    if language_code is not None:
        if language_code not in counts:
            raise NotFound(f"Region '{slug}' does not translate into '{language_code}'.")
        context.update(workflow.queue_context(actor, region, language_code, page, offset))
    return render_template("ui/review.html", **context), status


@bp.post("/review/<int:suggestion_id>")
@signed_in
def decide(suggestion_id: int):
    """Accept, edit or reject one segment; back to the queue, on the next segment."""
    actor: Actor = g.ui_actor
    decision = request.form.get("decision", "")
    text = request.form.get("text") if decision == Decision.EDIT.value else None
    try:
        if decision not in DECISION_WORDS:
            raise InvalidInput("Choose accept, edit or reject.", errors={"decision": ["Unknown."]})
        if text is not None and len(text) > MAX_EDIT_LENGTH:
            raise InvalidInput(
                f"The text is longer than {MAX_EDIT_LENGTH} characters.",
                errors={"text": ["Too long."]},
            )
        suggestion = suggestion_service.review_suggestion(
            db.session,
            actor,
            suggestion_id,
            decision=decision,
            candidate=_int_field("candidate", request.form.get("candidate")),
            text=text,
            confirm_checks=request.form.get("confirm_checks") == "1",
        )
    except (Conflict, InvalidInput) as error:
        # Shown on the queue itself, with the translator's text kept.
        db.session.rollback()
        problem = {
            "suggestion_id": suggestion_id,
            "decision": decision,
            "detail": (
                "The text fails quality checks (listed on the segment): correct it, or save it "
                "anyway once you checked it."
                if isinstance(error, ChecksFailed)
                else error.detail
            ),
            "conflict": isinstance(error, Conflict),
            "text": text,
            # Failed quality checks: shown on the segment with a button that confirms them.
            "checks": error.checks if isinstance(error, ChecksFailed) else [],
            "candidate": request.form.get("candidate"),
        }
        return _render_review(actor, problem=problem, status=error.status)
    summary = DECISION_WORDS[decision]
    if suggestion.final_text and suggestion.status is not SuggestionStatus.REJECTED:
        summary += f": “{_shorten(strip_markup(suggestion.final_text))}”"
    workflow.remember_decision(suggestion_id, summary)  # shown with Undo, not as a flash
    _, scope = _scope(actor)
    arguments = {
        "language": request.form.get("language") or None,
        "page": request.form.get("page") or None,
        "offset": request.form.get("offset") or None,
    }
    target = url_for("ui.review", **{k: v for k, v in arguments.items() if v is not None}, **scope)
    following = _int_field("next", request.form.get("next"))
    return redirect(target + (f"#s-{following}" if following else ""))


def _shorten(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# --------------------------------------------------------------------------- pages


@bp.get("/pages")
@signed_in
def pages():
    """The region's pages, which languages they have, and a way to queue suggestions."""
    actor: Actor = g.ui_actor
    slug, scope = _scope(actor)
    if slug is None:
        return _choose_region("ui.pages")
    region = get_region(db.session, slug)
    offset = _int_field("offset", request.args.get("offset"), 0) or 0
    # --- review workflow: search, state filter and the page tree over every page
    views, _ = list_pages(db.session, slug, actor=actor, include_drafts=True, limit=100_000)
    parents = {
        view.page.external_id: view.page.parent.external_id if view.page.parent else None
        for view in views
    }
    text = (request.args.get("q") or "").strip()
    filter_language = request.args.get("language") or None
    state = request.args.get("state") or None
    rows = workflow.filter_rows(
        page_rows(views, region), language=filter_language, state=state, text=text
    )
    filtered = bool(text or (filter_language and state))
    tree = (
        workflow.page_tree(rows, parents)
        if not filtered
        else [workflow.TreeRow(row, 0) for row in rows]
    )
    all_languages = [TextLanguage.of(language) for language in list_languages(db.session)]
    jobs_shown = [
        workflow.job_view(job)
        for job in (
            region_jobs.latest_region_job(PRETRANSLATE, slug),
            region_jobs.latest_region_job(LEVERAGE, slug),
        )
        if job is not None
    ]
    return render_template(
        "ui/pages.html",
        region=region,
        scope=scope,
        tree=tree[offset : offset + PAGES_PAGE_SIZE],
        targets=target_languages(region),
        all_languages=[
            language for language in all_languages if language.code != region.source_language.code
        ],
        total=len(tree),
        offset=offset,
        page_size=PAGES_PAGE_SIZE,
        q=text,
        filter_language=filter_language,
        state=state,
        filtered=filtered,
        jobs=jobs_shown,
    )
    # --- end review workflow


@bp.post("/pages/<string:external_id>/suggest")
@signed_in
def suggest(external_id: str):
    """Queue suggestions for one page into one language, then open that queue."""
    actor: Actor = g.ui_actor
    slug, scope = _required_scope(actor)
    language = request.form.get("language", "")
    try:
        result = suggest_with_app_services(
            actor, slug, target_language=language, page=external_id, queue=True
        )
    except DomainError as error:
        if isinstance(error, Unauthorized):
            raise
        db.session.rollback()
        flash(error.detail, "error")
        back = request.form.get("back")
        if back == "page":
            return redirect(url_for("ui.page", external_id=external_id, **scope))
        return redirect(url_for("ui.pages", **scope))
    pending = sum(
        1
        for segment in result.segments
        if segment.suggestion is not None and segment.suggestion.status is SuggestionStatus.PENDING
    )
    title = (
        review_queue.page_titles(db.session, [result.page.id]).get(result.page.id)
        if (result.page is not None)
        else None
    )
    message = (
        f"{pending} of {len(result.segments)} segments of page '{title or external_id}' wait for "
        f"review in {TextLanguage.of(result.target_language).name}."
    )
    report = result.machine_translation
    if report.status == "used":
        message += f" Machine translation filled in {report.segments} segments."
    elif report.status not in ("not_needed", "off", "not_configured") and report.detail:
        message += f" No machine translation: {report.detail}"
    flash(message, "success")
    return redirect(url_for("ui.review", language=language, page=external_id, **scope))


@bp.get("/pages/<string:external_id>")
@signed_in
def page(external_id: str):
    """An editor's view of a page: its translations, and similar pages of other regions."""
    actor: Actor = g.ui_actor
    slug, scope = _scope(actor)
    if slug is None:
        return _choose_region("ui.pages")
    region = get_region(db.session, slug)
    view = get_page(db.session, slug, external_id, actor=actor, include_drafts=True)
    similar = None
    similar_missing = None
    try:
        similar = find_similar_pages(
            db.session, get_similarity_indexes(), slug, external_id, limit=SIMILAR_PAGES
        )
    except NotFound:
        similar_missing = (
            "Not indexed yet: similar pages are found once the page has a public translation "
            "in its source language and has been embedded (a background job after each change)."
        )
    upstream = None
    if view.page.derived_from_id is not None:
        try:
            upstream = reuse_service.upstream_changes(db.session, actor, slug, external_id)[0]
        except NotFound:
            upstream = None
    translations = translation_rows(view)
    specifics = {
        row.code: reuse_service.local_specifics(row.translation.title, row.translation.content)
        for row in translations
        if row.translation.origin is Origin.REUSED
    }
    # The origin region's local details (names, offices, addresses) still in each reused draft.
    local_details = reuse_service.page_local_details(db.session, view.page)
    return render_template(
        "ui/page.html",
        region=region,
        scope=scope,
        view=view,
        translations=translations,
        title_row=translations[0] if translations else None,
        targets=target_languages(region),
        region_languages=region_language_codes(region),
        similar=similar,
        similar_missing=similar_missing,
        upstream=upstream,
        specifics=specifics,
        local_details=local_details,
    )


@bp.get("/pages/<string:external_id>/reuse")
@signed_in
def reuse_confirm(external_id: str):
    """What "Start from this page" would copy — languages, words, local details to replace,
    the new page's id — and a warning when the region has that content already."""
    actor: Actor = g.ui_actor
    slug, scope = _scope(actor)
    if slug is None:
        return _choose_region("ui.pages")
    region = get_region(db.session, slug)
    add_languages = request.args.get("add_languages") == "1"
    try:
        preview = reuse_service.preview_reuse(
            db.session,
            actor,
            slug,
            from_region=request.args.get("from_region", ""),
            from_page=request.args.get("from_page", ""),
            add_languages=add_languages,
            for_page=external_id,
        )
    except DomainError as error:
        if isinstance(error, Unauthorized):
            raise
        db.session.rollback()
        flash(error.detail, "error")
        return redirect(url_for("ui.page", external_id=external_id, **scope))
    return render_template(
        "ui/reuse_confirm.html",
        region=region,
        scope=scope,
        preview=preview,
        back=external_id,
        add_languages=add_languages,
    )


@bp.post("/pages/<string:external_id>/reuse")
@signed_in
def reuse(external_id: str):
    """Start a page of the signed-in region from a similar page of another region."""
    actor: Actor = g.ui_actor
    slug, scope = _required_scope(actor)
    from_region = request.form.get("from_region", "")
    from_page = request.form.get("from_page", "")
    try:
        result = reuse_service.reuse_page(
            db.session,
            actor,
            slug,
            from_region=from_region,
            from_page=from_page,
            add_languages=request.form.get("add_languages") == "1",
            external_id=(request.form.get("external_id") or "").strip() or None,
        )
    except DomainError as error:
        if isinstance(error, Unauthorized):
            raise
        db.session.rollback()
        flash(error.detail, "error")
        return redirect(url_for("ui.page", external_id=external_id, **scope))
    translations_changed([item.translation.id for item in result.translations])
    languages = ", ".join(item.translation.language.code for item in result.translations)
    added = ", ".join(node.language.code for node in result.languages_added)
    flash(
        f"Started page '{result.page.external_id}' from {result.attribution.region.name}'s page "
        f"'{from_page}' as drafts ({languages}). Check the attribution and the local details "
        "listed below before publishing."
        + (f" Added {added} to the region's languages." if added else ""),
        "success",
    )
    return redirect(url_for("ui.page", external_id=result.page.external_id, **scope))


# --------------------------------------------------------------------------- review workflow


@bp.post("/review/<int:suggestion_id>/undo")
@signed_in
def undo(suggestion_id: int):
    """Undo the last decision: the segment is back in the queue, the memory as before."""
    actor: Actor = g.ui_actor
    _, scope = _scope(actor)
    try:
        review_queue.undo_decision(db.session, actor, suggestion_id)
    except Conflict as error:
        db.session.rollback()
        flash(error.detail, "error")
    else:
        flash("Undone: the segment waits for review again.", "success")
    workflow.forget_decision()
    return redirect(_queue_url(scope) + f"#s-{suggestion_id}")


@bp.post("/review/batch-accept")
@signed_in
def batch_accept():
    """Accept every clean 100/101 % human match of the queue: a confirmation first, then all."""
    actor: Actor = g.ui_actor
    slug, scope = _required_scope(actor)
    region = get_region(db.session, slug)
    target = get_language(db.session, request.form.get("language", ""), field="language")
    if request.form.get("confirm") != "1":
        return _render_review(actor, confirm_batch=True)
    ids = [int(value) for value in request.form.getlist("ids") if value.isdigit()]
    accepted = review_queue.batch_accept(db.session, actor, region, target, ids)
    workflow.forget_decision()
    flash(
        f"Accepted {len(accepted)} segment{'' if len(accepted) == 1 else 's'} with a 100/101 % "
        "human match.",
        "success",
    )
    return redirect(_queue_url(scope))


def _queue_url(scope: dict[str, str]) -> str:
    arguments = {
        key: request.form.get(key) or None for key in ("language", "page", "offset", "show", "q")
    }
    return url_for("ui.review", **{k: v for k, v in arguments.items() if v is not None}, **scope)


@bp.post("/jobs/pretranslate")
@signed_in
def start_pretranslation():
    """Pre-translate the region into one language as a background job; then its progress."""
    actor: Actor = g.ui_actor
    slug, scope = _required_scope(actor)
    try:
        job, created = region_jobs.start_pretranslation(
            actor,
            slug,
            request.form.get("language", ""),
            machine_translation=request.form.get("machine_translation") == "1",
        )
    except DomainError as error:
        if isinstance(error, Unauthorized):
            raise
        db.session.rollback()
        flash(error.detail, "error")
        return redirect(url_for("ui.pages", **scope))
    if not created:
        flash("This pre-translation is already under way: here is its progress.", "success")
    return redirect(url_for("ui.job", job_id=job.id, **scope))


@bp.post("/jobs/leverage")
@signed_in
def start_leverage():
    """The region's leverage report as a background job; then its progress and the report."""
    actor: Actor = g.ui_actor
    slug, scope = _required_scope(actor)
    language = request.form.get("language") or None
    try:
        job, _ = region_jobs.start_leverage(actor, slug, [language] if language else None)
    except DomainError as error:
        if isinstance(error, Unauthorized):
            raise
        db.session.rollback()
        flash(error.detail, "error")
        return redirect(url_for("ui.pages", **scope))
    return redirect(url_for("ui.job", job_id=job.id, **scope))


@bp.get("/jobs/<string:job_id>")
@signed_in
def job(job_id: str):
    """A region-wide job: progress while it runs (the page refreshes itself), then its result."""
    actor: Actor = g.ui_actor
    slug, scope = _scope(actor)
    found = db.session.get(Job, job_id) if len(job_id) <= 36 else None
    if (
        found is None
        or found.kind not in (PRETRANSLATE, LEVERAGE)
        or (found.params or {}).get("region") != slug
    ):
        raise NotFound(f"No job '{job_id}' of this region.")
    region = get_region(db.session, slug) if slug else None
    return render_template("ui/job.html", region=region, scope=scope, job=workflow.job_view(found))


@bp.route("/<path:unknown>", methods=["GET", "POST"])
def not_found(unknown: str):
    raise NotFound("There is no such page in the review UI.")
