"""Tables of the Integreat CMS round trip: what the live sync last read from an instance.

`CmsSyncState`: per region, language and kind (pages, events, locations, imprint), the
listing's address, the validators the instance sent with it (ETag, Last-Modified: the next run
sends them back and an unchanged listing is not downloaded again), when it was read, how many
items it had, and the last error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from memory.models import Base, Region, UtcDateTime


class CmsSyncState(Base):
    __tablename__ = "cms_sync_state"
    __table_args__ = (UniqueConstraint("region_id", "language_code", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    language_code: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default="pages")
    url: Mapped[str] = mapped_column(String(1000), default="")
    etag: Mapped[str | None] = mapped_column(String(300))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    pages: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")

    region: Mapped[Region] = relationship()
