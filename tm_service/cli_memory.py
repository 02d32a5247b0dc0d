"""`flask tm …` commands of the translation memory (TMX import/export, index rebuild)."""

from __future__ import annotations

from flask.cli import AppGroup


def register_memory_commands(group: AppGroup) -> None:
    return None
