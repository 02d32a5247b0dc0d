"""The review queue's workflow: undo a decision, accept the clean 100/101 % matches in a batch."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from memory.authorization import Action, authorize
from memory.services import review_queue
from memory.services.pages import get_page_or_404
from memory.services.regions import get_language, get_region
from tm_service.api.schemas import LANGUAGE_CODE, StrictSchema
from tm_service.api.suggestions import StoredSuggestionSchema
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db

blp = Blueprint("review_queue", __name__, description="The review queue's workflow")


class BatchAcceptSchema(StrictSchema):
    target_language = fields.String(required=True, validate=LANGUAGE_CODE)
    page = fields.String(
        validate=validate.Length(1, 100), metadata={"description": "Only this page's segments."}
    )
    suggestion_ids = fields.List(
        fields.Integer(validate=validate.Range(1, 2**31 - 1)),
        validate=validate.Length(0, 10_000),
        metadata={
            "description": "The segments to accept, as listed by a call without them (the "
            "confirmation); only those that still qualify are accepted. Without it nothing is "
            "decided: the answer lists the segments that qualify."
        },
    )


class BatchResultSchema(Schema):
    decided = fields.Boolean(metadata={"description": "False: a listing, nothing decided."})
    count = fields.Integer()
    items = fields.List(fields.Nested(StoredSuggestionSchema))


@blp.route("/suggestions/<int:suggestion_id>/undo", methods=["POST"])
@token_required
@blp.response(200, StoredSuggestionSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="A role that may not review")
@blp.alt_response(404, description="No such suggestion in the token's region")
@blp.alt_response(409, description="The suggestion waits for review: nothing to undo")
def undo(suggestion_id):
    """Undo the last decision on a segment: it waits for review again.

    A reviewed unit that only this decision wrote leaves the memory; a rejection's penalty is
    taken back. The audit keeps the decision, marked with who undid it and when.
    """
    return review_queue.undo_decision(db.session, current_actor(), suggestion_id)


@blp.route("/regions/<string:region>/suggestions/batch-accept", methods=["POST"])
@token_required
@blp.arguments(BatchAcceptSchema)
@blp.response(200, BatchResultSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region, or a role that may not review")
@blp.alt_response(404, description="Unknown region, language or page")
def batch_accept(data, region):
    """Accept every pending segment whose top candidate is a 100/101 % human translation of
    exactly the same source sentence (published or reviewed, not outdated or rejected, no
    failed quality check, no local detail to replace).

    Two steps, as one confirmation: without `suggestion_ids` the answer lists the segments that
    qualify; with them, those still qualifying are accepted (each audited as a decision).
    """
    actor = authorize(current_actor(), Action.REVIEW, region)
    home = get_region(db.session, region)
    target = get_language(db.session, data["target_language"], field="target_language")
    page_id = None
    if data.get("page"):
        page_id = get_page_or_404(db.session, home, data["page"], field="page").id
    if "suggestion_ids" not in data:
        listed = review_queue.batch_candidates(db.session, actor, home, target, page_id=page_id)
        return {"decided": False, "count": len(listed), "items": listed}
    accepted = review_queue.batch_accept(db.session, actor, home, target, data["suggestion_ids"])
    return {"decided": True, "count": len(accepted), "items": accepted}
