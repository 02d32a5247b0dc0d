"""Translation memory: units built from public page translations, fuzzy lookup, concordance.

Units (memory.tm_models.TranslationUnit) are aligned segment pairs of the latest *public*
source and target translation of a page, one set per language pair of the region's language
tree (Arabic from English where the region translates so, else from the page's source
language). `refresh_units` rebuilds a page's units idempotently after new versions arrive.

Lookup matches on the normalised placeholder form of a segment: inline markup stripped, local
specifics (phone numbers, dates, amounts …) as typed `{KIND}` tokens (matchers.placeholders),
normalised (matchers.normalise). Exact matches come from the database by hash; fuzzy ones from
an in-process `TranslationMemoryIndex` (matchers.fuzzy_index), rescored exactly and penalised
(matchers.scoring). The query's own values are put into the suggested translation.

Modules (the names below are importable from this package):

- `keys`: segment keys and forms (`SegmentKey`, `strip_markup`, `segment_key`, `unit_key`,
  `context_key`).
- `revisions`: the change counter (`next_revision`, `reserve_revision`, `publish_revision`,
  `units_written_since`, `current_revision`, `memory_id`, `bump_epoch`).
- `units`: building units (`RefreshReport`, `refresh_units`, `refresh_all_units`,
  `rekey_units`, `add_reviewed_unit`, `REVIEW_BATCH`).
- `index`: the in-process fuzzy index (`TranslationMemoryIndex`, `build_frozen_indexes`,
  `build_index_snapshot`, `index_from`) and its tuning constants.
- `found_units`: the units of a lookup's source forms as plain rows (`FoundUnit`,
  `units_of_forms`), read by one statement built once.
- `lookups`: lookup (`LookupMatch`, `LookupContext`, `lookup`, `trust_status`, `approved`).
- `concordances`: concordance search and unit counts (`ConcordanceHit`, `concordance`,
  `unit_counts`).

Layers: keys and revisions import nothing of the package; units imports keys and revisions;
index imports revisions; found_units imports nothing of the package; lookups imports keys,
found_units and index; concordances imports keys. A tunable constant (e.g.
`index.DELTA_REBUILD_MINIMUM`) is read by its module: override it there. Names imported below
`as` themselves are not in `__all__`, but other modules import them from here.
"""

from memory.services.translation_memory.concordances import ConcordanceHit as ConcordanceHit
from memory.services.translation_memory.concordances import concordance
from memory.services.translation_memory.concordances import unit_counts as unit_counts
from memory.services.translation_memory.index import (
    FUZZY_READY,
    FUZZY_WARMING_UP,
    TranslationMemoryIndex,
    build_frozen_indexes,
    build_index_snapshot,
    index_from,
)
from memory.services.translation_memory.keys import SegmentKey, segment_key, unit_key
from memory.services.translation_memory.keys import context_key as context_key
from memory.services.translation_memory.keys import strip_markup as strip_markup
from memory.services.translation_memory.lookups import (
    DEFAULT_PIVOT_LANGUAGE,
    LookupContext,
    LookupMatch,
    lookup,
    trust_status,
)
from memory.services.translation_memory.lookups import LookupQuery as LookupQuery
from memory.services.translation_memory.lookups import approved as approved
from memory.services.translation_memory.revisions import bump_epoch as bump_epoch
from memory.services.translation_memory.revisions import current_revision as current_revision
from memory.services.translation_memory.revisions import memory_id as memory_id
from memory.services.translation_memory.revisions import next_revision as next_revision
from memory.services.translation_memory.revisions import (
    publish_revision,
    reserve_revision,
    units_written_since,
)
from memory.services.translation_memory.units import REVIEW_BATCH as REVIEW_BATCH
from memory.services.translation_memory.units import (
    RefreshReport,
    add_reviewed_unit,
    refresh_all_units,
    refresh_units,
    rekey_units,
)

__all__ = [
    "DEFAULT_PIVOT_LANGUAGE",
    "FUZZY_READY",
    "FUZZY_WARMING_UP",
    "LookupContext",
    "LookupMatch",
    "RefreshReport",
    "SegmentKey",
    "TranslationMemoryIndex",
    "concordance",
    "lookup",
    "publish_revision",
    "refresh_all_units",
    "refresh_units",
    "rekey_units",
    "reserve_revision",
    "add_reviewed_unit",
    "build_frozen_indexes",
    "build_index_snapshot",
    "index_from",
    "segment_key",
    "trust_status",
    "unit_key",
    "units_written_since",
]
