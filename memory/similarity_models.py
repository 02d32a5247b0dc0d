"""Near-duplicate tables (embedding cache, job records)."""

from __future__ import annotations
