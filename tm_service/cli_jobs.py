"""`flask tm …` commands of background jobs and near-duplicates (worker, recompute)."""

from __future__ import annotations

from flask.cli import AppGroup


def register_job_commands(group: AppGroup) -> None:
    return None
