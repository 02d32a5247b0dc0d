"""Translation-memory tables (segments, translation units)."""

from __future__ import annotations
