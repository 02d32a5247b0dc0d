"""Suggestions for a translation to be made, the review queue, and translators' decisions."""

from __future__ import annotations

from flask import current_app, has_request_context
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from connectors.deepl_client import DeepLTranslator
from memory.review_models import Decision, SuggestionStatus
from memory.services import similarity as similarity_service
from memory.services import suggestions as suggestion_service
from memory.services.semantic import REQUEST_WAIT_S
from tm_service.api.gazetteer import DraftLocalDetailSchema, LocalDetailSchema
from tm_service.api.schemas import LANGUAGE_CODE, StrictSchema, license_of
from tm_service.api.tm import PenaltySchema, TrustSchema, penalty_policy, tm_index
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db
from tm_service.jobs import get_semantic_memory, get_similarity_indexes

blp = Blueprint(
    "suggestions", __name__, description="Suggestions, pre-translated drafts and their review"
)

# Pages of other regions whose aligned units are offered (and preferred among semantic
# candidates): near-copies and same-topic pages, at most this many.
NEAR_DUPLICATE_PAGES = 5
MAX_TEXT_LENGTH = 100_000
# Units by meaning asked per segment (distinct source sentences).
SEMANTIC_CANDIDATES = 3


def similar_pages_finder(translation_id: int) -> list[suggestion_service.SimilarPage]:
    """Near-duplicate pages of other regions for a public page translation, best first."""
    session = db.session
    indexes = get_similarity_indexes()
    found = similarity_service.find_similar_translations(
        session,
        indexes,
        translation_id,
        limit=NEAR_DUPLICATE_PAGES * 8,
        min_relation="same_topic",
    )
    pages: dict[int, suggestion_service.SimilarPage] = {}
    for page, score, _reason in found:
        if page.page_id not in pages:
            pages[page.page_id] = suggestion_service.SimilarPage(
                page.page_id, page.region, page.external_id, score
            )
    return list(pages.values())[:NEAR_DUPLICATE_PAGES]


def semantic_finder(
    source_language_id: int,
    target_language_id: int,
    texts,
    exclude_page_id: int | None,
):
    """Units whose source means what each text says (this process's semantic index). A web
    request waits at most `REQUEST_WAIT_S` for the index to load; a job waits for it."""
    return get_semantic_memory().neighbours(
        db.session,
        source_language_id,
        target_language_id,
        texts,
        limit=SEMANTIC_CANDIDATES,
        exclude_page_id=exclude_page_id,
        wait_s=REQUEST_WAIT_S if has_request_context() else None,
    )


def machine_translator() -> DeepLTranslator | None:
    """A DeepL connector when `DEEPL_API_KEY` is configured, else None (no MT)."""
    key = current_app.config.get("DEEPL_API_KEY")
    if not key:
        return None
    return DeepLTranslator(
        key,
        server_url=current_app.config.get("DEEPL_SERVER_URL") or None,
        timeout=float(current_app.config.get("DEEPL_TIMEOUT", 10)),
    )


def suggest_with_app_services(
    actor, region: str, *, machine_translation: bool = True, **options
) -> suggestion_service.SuggestionResult:
    """`suggest_translations` with this app's index, penalties, near-duplicate finder and DeepL
    connector (for the API and the review UI alike)."""
    translator = machine_translator() if machine_translation else None
    try:
        return suggestion_service.suggest_translations(
            db.session,
            tm_index(),
            actor,
            region,
            policy=penalty_policy(),
            similar_pages=similar_pages_finder,
            semantic=semantic_finder,
            translator=translator,
            machine_translation=machine_translation,
            **options,
        )
    finally:
        if translator is not None:
            translator.close()


# --- schemas ------------------------------------------------------------------


class SuggestionRequestSchema(StrictSchema):
    page = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "External id of the region's page to translate."},
    )
    text = fields.String(
        validate=validate.Length(1, MAX_TEXT_LENGTH),
        metadata={"description": "Free text (HTML or plain) instead of a page."},
    )
    source_language = fields.String(
        validate=LANGUAGE_CODE, metadata={"description": "Language of `text` (free text only)."}
    )
    target_language = fields.String(required=True, validate=LANGUAGE_CODE)
    min_score = fields.Float(load_default=70.0, validate=validate.Range(0, 100))
    limit = fields.Integer(
        load_default=3,
        validate=validate.Range(1, 10),
        metadata={"description": "Memory candidates per segment."},
    )
    machine_translation = fields.Boolean(
        load_default=True,
        metadata={
            "description": "Offer DeepL for segments without a memory match ≥ 75 "
            "(where configured and within the region's word budget)."
        },
    )
    queue = fields.Boolean(
        metadata={
            "description": "Store the suggestions in the region's review queue "
            "(default: yes for a page, no for free text)."
        }
    )

    @validates_schema
    def page_or_text(self, data, **kwargs):
        if ("page" in data) == ("text" in data):
            message = "Give either page or text."
            raise ValidationError({"page": [message], "text": [message]})
        if "text" in data and "source_language" not in data:
            raise ValidationError({"source_language": ["Required with text."]})


class QaCheckSchema(Schema):
    check = fields.String(
        metadata={
            "description": "number | phone | date | time | url | email | tag | untranslated | "
            "whitespace | punctuation"
        }
    )
    code = fields.String(metadata={"description": "e.g. phone_missing, number_extra, tag_missing"})
    message = fields.String()
    value = fields.String(metadata={"description": "The value concerned, e.g. the phone number."})


class CandidateSchema(Schema):
    text = fields.String(metadata={"description": "The suggestion, local specifics put in."})
    kind = fields.String(
        metadata={
            "description": "exact | context | fuzzy | semantic (same meaning) | fragments (the "
            "segment's parts that the memory holds as units, put together) | machine"
        }
    )
    source = fields.String(
        metadata={"description": "translation_memory | near_duplicate | machine_translation"}
    )
    match = fields.Float(
        allow_none=True,
        metadata={
            "description": "How much of the source matches: 0–100, 100 for an identical source "
            "whatever its origin, 101 when its neighbours match too; null for MT (no match)."
        },
    )
    trust = fields.Nested(
        TrustSchema,
        allow_none=True,
        metadata={
            "description": "What is known of the translation: 100 minus its trust penalties, "
            "reviewed | approved | unreviewed | machine, outdated, other region, rejections."
        },
    )
    score = fields.Float(
        allow_none=True,
        metadata={
            "description": "Ranks the candidates: match minus every listed penalty, 0–100 (101: "
            "context); null for MT."
        },
    )
    base_score = fields.Float(allow_none=True, metadata={"description": "= match."})
    match_source_text = fields.String(
        allow_none=True, metadata={"description": "The source text of the memory match."}
    )
    penalties = fields.List(fields.Nested(PenaltySchema))
    placeholder_mismatches = fields.List(fields.Dict())
    local_details = fields.List(
        fields.Nested(LocalDetailSchema),
        metadata={
            "description": "Local details of the match's region the query lacks: replaced by "
            "the query's value, or to review (a foreign_local_detail penalty names them)."
        },
    )
    origin = fields.Dict(
        metadata={
            "description": "Where it came from: region, region_name, page, page_title, url (of "
            "the donor page where known), relation (this_region | other_region; own for the "
            "page's current translation), date, human/machine/reused, reviewed, license and "
            "attribution to display."
        }
    )
    checks = fields.List(
        fields.Nested(QaCheckSchema),
        metadata={
            "description": "Quality checks the text fails as a translation of the segment; "
            "accepting it needs confirm_checks while any fails."
        },
    )
    terminology = fields.Dict(
        allow_none=True,
        metadata={
            "description": "The termbase's view of the text: flagged (it uses a deprecated or "
            "forbidden target term), terms (the segment's terms: term, preferred, used) and "
            "avoided (term, status, surface, preferred). A terminology penalty per term not "
            "used. Null when the segment has no termbase term."
        },
    )
    fragments = fields.Dict(
        allow_none=True,
        metadata={
            "description": "Fragment assembly: words, covered_words, share (0–1) and pieces "
            "(source phrase, target put in, words, kind memory | calendar, unit_id, trust, "
            "origin). No match or score: no unit matches the whole segment. Null for other "
            "kinds."
        },
    )
    similarity = fields.Dict(
        allow_none=True,
        metadata={
            "description": "Semantic candidates: cosine of the sentence vectors (−1–1), its "
            "standard score z against random sentence pairs of the language, and its "
            "percentile among them (0–1). Null for other kinds."
        },
    )


class SegmentSchema(Schema):
    suggestion_id = fields.Function(
        lambda s: s.suggestion.id if s.suggestion is not None else None,
        metadata={"type": "integer", "nullable": True},
    )
    status = fields.Function(
        lambda s: s.suggestion.status.value if s.suggestion is not None else None,
        metadata={"type": "string", "nullable": True},
    )
    part = fields.String(metadata={"description": "title | content | text"})
    index = fields.Integer()
    source_text = fields.Function(lambda s: s.plain_source, metadata={"type": "string"})
    words = fields.Integer()
    terms = fields.List(
        fields.Dict(),
        metadata={
            "description": "Termbase terms of the source (term, surface, start, end, status, "
            "preferred and avoid target terms, concept_key, definition)."
        },
    )
    candidates = fields.List(fields.Nested(CandidateSchema))
    current_translation = fields.Nested(
        CandidateSchema,
        attribute="current",
        allow_none=True,
        metadata={
            "description": "The page's own published translation of this segment (origin "
            "relation 'own'): shown, never offered as a candidate or used for the draft."
        },
    )
    chosen = fields.Function(
        lambda s: s.candidates.index(s.chosen) if s.chosen is not None else None,
        metadata={"type": "integer", "nullable": True, "description": "The draft's candidate."},
    )


class DraftSchema(Schema):
    title = fields.String(allow_none=True)
    meta_description = fields.String(
        allow_none=True, metadata={"description": "Null when the source has none."}
    )
    content = fields.String(metadata={"description": "HTML, best candidate per segment."})
    attribution = fields.List(fields.Dict())
    coverage = fields.Dict(keys=fields.String(), values=fields.Integer())
    local_details = fields.List(
        fields.Nested(DraftLocalDetailSchema),
        metadata={"description": "Other regions' local details the draft kept: review them."},
    )


class MachineTranslationReportSchema(Schema):
    status = fields.String()
    detail = fields.String()
    segments = fields.Integer()
    words_charged = fields.Integer()
    words_reused = fields.Integer()
    budget = fields.Integer()
    used = fields.Integer()
    retry_after = fields.Integer(allow_none=True)


class SimilarPageRefSchema(Schema):
    region = fields.String()
    page = fields.String(attribute="external_id")
    score = fields.Float()


class SuggestionResultSchema(Schema):
    region = fields.String(attribute="region.slug")
    page = fields.Function(
        lambda r: r.page.external_id if r.page is not None else None,
        metadata={"type": "string", "nullable": True},
    )
    source_language = fields.String(attribute="source_language.code")
    target_language = fields.String(attribute="target_language.code")
    source_version = fields.Integer(allow_none=True)
    segments = fields.List(fields.Nested(SegmentSchema))
    draft = fields.Nested(DraftSchema)
    machine_translation = fields.Nested(MachineTranslationReportSchema)
    near_duplicates = fields.List(fields.Nested(SimilarPageRefSchema))
    license = fields.Function(lambda r: license_of(r.region), metadata={"type": "object"})


class QueueQuerySchema(StrictSchema):
    target_language = fields.String(validate=LANGUAGE_CODE)
    status = fields.String(
        load_default=SuggestionStatus.PENDING.value,
        validate=validate.OneOf([s.value for s in SuggestionStatus] + ["all"]),
    )
    page = fields.String(validate=validate.Length(1, 100))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10**9))


class ReviewRecordSchema(Schema):
    id = fields.Integer()
    decision = fields.Function(lambda r: r.decision.value, metadata={"type": "string"})
    candidate_index = fields.Integer(allow_none=True)
    before_text = fields.String(allow_none=True)
    after_text = fields.String(allow_none=True)
    actor_name = fields.String()
    actor_role = fields.String()
    created_at = fields.DateTime()
    qa_checks = fields.List(
        fields.Nested(QaCheckSchema),
        allow_none=True,
        metadata={"description": "The quality checks the stored text failed."},
    )
    checks_confirmed = fields.Boolean(
        metadata={"description": "The translator confirmed the failed checks."}
    )


class StoredSuggestionSchema(Schema):
    id = fields.Integer()
    region = fields.String(attribute="region.slug")
    page = fields.Function(
        lambda s: s.page.external_id if s.page is not None else None,
        metadata={"type": "string", "nullable": True},
    )
    source_version = fields.Integer(allow_none=True)
    source_language = fields.String(attribute="source_language.code")
    target_language = fields.String(attribute="target_language.code")
    part = fields.String()
    segment_index = fields.Integer()
    source_text = fields.String()
    candidates = fields.List(fields.Nested(CandidateSchema))
    status = fields.Function(lambda s: s.status.value, metadata={"type": "string"})
    final_text = fields.String(allow_none=True)
    requested_by = fields.String()
    created_at = fields.DateTime()
    reviewed_at = fields.DateTime(allow_none=True)
    reviews = fields.List(fields.Nested(ReviewRecordSchema))


class QueueSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(StoredSuggestionSchema))


class ReviewSchema(StrictSchema):
    decision = fields.String(required=True, validate=validate.OneOf([d.value for d in Decision]))
    candidate = fields.Integer(
        validate=validate.Range(0, 100),
        metadata={"description": "Index of the candidate accepted, edited or rejected (0)."},
    )
    text = fields.String(
        validate=validate.Length(1, 5000),
        metadata={"description": "The translator's text (edit only)."},
    )
    confirm_checks = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Store the text although it fails quality checks (they are audited). "
            "Without it such a decision is refused with 422 and the failed checks."
        },
    )


# --- routes -------------------------------------------------------------------


@blp.route("/regions/<string:region>/suggestions", methods=["POST"])
@token_required
@blp.arguments(SuggestionRequestSchema)
@blp.response(200, SuggestionResultSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region")
@blp.alt_response(404, description="Unknown region, page, language, or no public source")
@blp.alt_response(422, description="Invalid request")
def suggest(data, region):
    """Ranked candidates per segment and a pre-translated draft with its attribution.

    Memory (exact, context, fuzzy) and near-duplicate pages of other regions first; DeepL only
    for segments without a match ≥ 75, where configured and within the region's word budget.
    DeepL failing never fails the request: `machine_translation.status` says why it is missing.
    """
    return suggest_with_app_services(
        current_actor(),
        region,
        target_language=data["target_language"],
        page=data.get("page"),
        text=data.get("text"),
        source_language=data.get("source_language"),
        min_score=data["min_score"],
        limit=data["limit"],
        machine_translation=data["machine_translation"],
        queue=data.get("queue"),
    )


@blp.route("/regions/<string:region>/suggestions", methods=["GET"])
@token_required
@blp.arguments(QueueQuerySchema, location="query")
@blp.response(200, QueueSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region")
@blp.alt_response(404, description="Unknown region, language or page")
def queue(query, region):
    """The region's stored suggestions: the review queue (pending) by default."""
    status = query["status"]
    items, total = suggestion_service.list_suggestions(
        db.session,
        current_actor(),
        region,
        target_language=query.get("target_language"),
        status=None if status == "all" else status,
        page=query.get("page"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return {"total": total, "items": items}


@blp.route("/suggestions/<int:suggestion_id>", methods=["GET"])
@token_required
@blp.response(200, StoredSuggestionSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region")
@blp.alt_response(404, description="Unknown suggestion")
def get_suggestion(suggestion_id):
    """One stored suggestion with its audit trail (every decision: who, when, before, after)."""
    return suggestion_service.get_suggestion(db.session, current_actor(), suggestion_id)


@blp.route("/suggestions/<int:suggestion_id>/review", methods=["POST"])
@token_required
@blp.arguments(ReviewSchema)
@blp.response(200, StoredSuggestionSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not a translator, editor or admin of the region")
@blp.alt_response(404, description="Unknown suggestion")
@blp.alt_response(409, description="Already reviewed")
@blp.alt_response(
    422,
    description="Invalid decision, candidate or text; or the text fails quality checks "
    "(type …/qa-checks-failed, the failed checks in `checks`) and confirm_checks was not set",
)
def review(data, suggestion_id):
    """Accept, edit or reject a suggestion; audited. Accepted and edited texts become reviewed
    memory units of the region; a rejected memory candidate is demoted. An accepted or edited
    text that fails a quality check (numbers, phones, dates, times, URLs, e-mails, inline tags,
    untranslated source, whitespace, punctuation) is stored only with `confirm_checks: true`."""
    return suggestion_service.review_suggestion(
        db.session,
        current_actor(),
        suggestion_id,
        decision=data["decision"],
        candidate=data.get("candidate"),
        text=data.get("text"),
        confirm_checks=data["confirm_checks"],
    )
