"""Who may do what: one function, `authorize`, called by every service that writes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from memory.errors import Forbidden, Unauthorized
from memory.models import Role


class Action(enum.StrEnum):
    WRITE_CONTENT = "write_content"  # push page translations, import pages, reuse pages
    REVIEW = "review"  # accept / edit / reject suggestions
    SUGGEST = "suggest"  # ask for suggestions (may spend the region's MT budget)
    MANAGE_REGION = "manage_region"  # update a region, its languages, neighbours
    EDIT_GAZETTEER = "edit_gazetteer"  # a region's local details: add, correct, remove, rebuild
    ADMINISTER = "administer"  # create regions and languages, tokens, TMX import


ALLOWED: dict[Action, frozenset[Role]] = {
    Action.WRITE_CONTENT: frozenset({Role.CMS, Role.EDITOR, Role.ADMIN}),
    Action.REVIEW: frozenset({Role.TRANSLATOR, Role.EDITOR, Role.ADMIN}),
    Action.SUGGEST: frozenset({Role.CMS, Role.EDITOR, Role.TRANSLATOR, Role.ADMIN}),
    Action.MANAGE_REGION: frozenset({Role.ADMIN}),
    Action.EDIT_GAZETTEER: frozenset({Role.EDITOR, Role.ADMIN}),
    Action.ADMINISTER: frozenset({Role.ADMIN}),
}


@dataclass(frozen=True)
class Actor:
    """The caller of a service: a token's role and region scope (None = every region)."""

    role: Role
    region_slug: str | None
    token_id: int | None = None
    name: str = ""

    @property
    def is_global_admin(self) -> bool:
        return self.role is Role.ADMIN and self.region_slug is None

    def can_read_drafts_of(self, region_slug: str) -> bool:
        return self.is_global_admin or self.region_slug == region_slug


def authorize(actor: Actor | None, action: Action, region_slug: str | None = None) -> Actor:
    """Return the actor if it may do `action` in `region_slug` (None: a global action)."""
    if actor is None:
        raise Unauthorized("This operation needs an API token (Authorization: Bearer …).")
    if actor.role not in ALLOWED[action]:
        raise Forbidden(f"A {actor.role.value} token may not {action.value.replace('_', ' ')}.")
    if actor.is_global_admin:
        return actor
    if region_slug is None or actor.region_slug != region_slug:
        scope = f"region '{region_slug}'" if region_slug else "every region"
        raise Forbidden(
            f"This token is scoped to region '{actor.region_slug}' and may not act on {scope}."
        )
    return actor
