"""Background jobs: state and progress (public, without parameters or error details)."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from memory.services import jobs_records
from memory.similarity_models import JobState
from tm_service.api.schemas import StrictSchema
from tm_service.extensions import db
from tm_service.jobs import eta_seconds

blp = Blueprint("jobs", __name__, description="Background jobs")


class JobSummarySchema(Schema):
    id = fields.String()
    kind = fields.String()
    state = fields.Enum(JobState, by_value=True)
    progress = fields.Function(
        lambda job: {
            "done": job.progress_done,
            "total": job.progress_total,
            "eta_seconds": eta_seconds(job),
        },
        metadata={
            "type": "object",
            "description": "Page translations done of `total` (fixed when the job was recorded; "
            "`done` only grows while an attempt runs) and, while it runs, the seconds still "
            "needed at the rate so far (`eta_seconds`, null when it cannot tell). `message` "
            "names the current step.",
        },
    )
    message = fields.String()
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class JobSchema(JobSummarySchema):
    result = fields.Dict(allow_none=True)
    # Only whether it failed and the exception type: messages may name internals.
    error = fields.Function(
        lambda job: job.error.split(":", 1)[0] if job.error else None, allow_none=True
    )
    attempts = fields.Integer()
    started_at = fields.DateTime(allow_none=True)


class JobListQuerySchema(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    state = fields.Enum(JobState, by_value=True)


class JobListSchema(Schema):
    items = fields.List(fields.Nested(JobSummarySchema))


@blp.route("/jobs")
@blp.arguments(JobListQuerySchema, location="query")
@blp.response(200, JobListSchema)
def list_jobs(query):
    """Recent jobs, newest first (state and progress only)."""
    return {
        "items": jobs_records.recent_jobs(
            db.session, limit=query["limit"], state=query.get("state")
        )
    }


@blp.route("/jobs/<string:job_id>")
@blp.response(200, JobSchema)
@blp.alt_response(404, description="No such job")
def get_job(job_id):
    """One job: state, progress, result, and the error type if it failed."""
    return jobs_records.get_job(db.session, job_id)
