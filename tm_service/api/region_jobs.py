"""Region-wide background jobs: pre-translation and the leverage report of a whole region."""

from __future__ import annotations

from flask import url_for
from flask_smorest import Blueprint
from marshmallow import fields, validate

from tm_service.api.jobs import JobSchema
from tm_service.api.schemas import LANGUAGE_CODE, StrictSchema
from tm_service.auth import current_actor, token_required
from tm_service.region_jobs import start_leverage, start_pretranslation

blp = Blueprint("region_jobs", __name__, description="Region-wide background jobs")


class PretranslateRequestSchema(StrictSchema):
    target_language = fields.String(required=True, validate=LANGUAGE_CODE)
    machine_translation = fields.Boolean(
        load_default=True,
        metadata={
            "description": "Use DeepL for segments without a memory match ≥ 75, within the "
            "region's word budget (`mt_word_budget`)."
        },
    )
    min_score = fields.Float(load_default=70.0, validate=validate.Range(0, 100))


class LeverageJobRequestSchema(StrictSchema):
    target_language = fields.List(
        fields.String(validate=LANGUAGE_CODE),
        validate=validate.Length(1, 50),
        metadata={"description": "Languages to count (default: every language of the region)."},
    )


def _accepted(job, created: bool):
    headers = {"Location": url_for("jobs.get_job", job_id=job.id)}
    return job, 202, headers


@blp.route("/regions/<string:region>/pretranslate", methods=["POST"])
@token_required
@blp.arguments(PretranslateRequestSchema)
@blp.response(202, JobSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region, or a role that may not write content")
@blp.alt_response(404, description="Unknown region or language")
@blp.alt_response(422, description="The region's source language")
def pretranslate(data, region):
    """Pre-translate every page that lacks the language (or whose translation is outdated).

    A background job: each such page gets its segments in the review queue and a **draft**
    version built from the best candidate per segment (never public); machine translation only
    within the region's budget. Follow it at `Location` (`GET /jobs/{id}`: progress in pages,
    the report as `result`). A job for the same region and language still queued or running
    is answered instead of a second one.
    """
    job, created = start_pretranslation(
        current_actor(),
        region,
        data["target_language"],
        machine_translation=data["machine_translation"],
        min_score=data["min_score"],
    )
    return _accepted(job, created)


@blp.route("/regions/<string:region>/leverage/jobs", methods=["POST"])
@token_required
@blp.arguments(LeverageJobRequestSchema)
@blp.response(202, JobSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region")
@blp.alt_response(404, description="Unknown region or language")
@blp.alt_response(422, description="The region's source language")
def leverage_job(data, region):
    """The leverage report of the whole region as a background job (for big regions).

    The same report as `GET /regions/{region}/leverage`, stored as the job's `result`;
    progress counts pages × languages.
    """
    job, created = start_leverage(current_actor(), region, data.get("target_language"))
    return _accepted(job, created)
