"""Flask extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

import memory.gazetteer_models  # noqa: F401 — registers the gazetteer tables
import memory.review_models  # noqa: F401 — registers the suggestion and review tables
import memory.similarity_models  # noqa: F401 — registers the near-duplicate tables
import memory.tm_models  # noqa: F401 — registers the translation-memory tables
from memory.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
