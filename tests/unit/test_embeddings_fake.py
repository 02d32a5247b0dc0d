"""FakeEncoder: deterministic, normalised vectors where shared words mean similarity."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matchers.embeddings import Encoder, FakeEncoder, load_encoder

REPO = Path(__file__).resolve().parents[2]

REGISTRATION = "Die Anmeldung des Wohnsitzes erfolgt im Bürgerbüro der Gemeinde."
REGISTRATION_REWORDED = "Anmeldung des Wohnsitzes: bitte im Bürgerbüro Ihrer Gemeinde."
LANGUAGE_COURSE = "Deutschkurse für Erwachsene bietet die Volkshochschule an."


def test_vectors_are_float32_unit_length_with_one_row_per_text() -> None:
    vectors = FakeEncoder(dim=64).encode_passages([REGISTRATION, LANGUAGE_COURSE, ""])

    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_same_text_gives_the_same_vector_in_every_encoder_instance() -> None:
    first = FakeEncoder(dim=32).encode_queries([REGISTRATION])
    second = FakeEncoder(dim=32).encode_queries([REGISTRATION])

    np.testing.assert_array_equal(first, second)


def test_vectors_do_not_depend_on_python_hash_randomisation() -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from matchers.embeddings import FakeEncoder;"
        "print(FakeEncoder(16).encode_queries(['Wohnsitz anmelden'])[0].tolist())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, str(REPO)],
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }

    assert len(outputs) == 1


def test_texts_sharing_words_are_closer_than_texts_on_another_topic() -> None:
    registration, reworded, course = FakeEncoder(dim=256).encode_passages(
        [REGISTRATION, REGISTRATION_REWORDED, LANGUAGE_COURSE]
    )

    assert registration @ reworded > registration @ course
    assert registration @ reworded > 0.5


def test_case_and_unicode_width_do_not_change_the_vector() -> None:
    encoder = FakeEncoder()

    plain, shouted = encoder.encode_queries(["Wohnsitz anmelden", "ＷＯＨＮＳＩＴＺ ANMELDEN"])

    np.testing.assert_allclose(plain, shouted)


def test_queries_and_passages_are_encoded_alike() -> None:
    encoder = FakeEncoder()

    np.testing.assert_array_equal(
        encoder.encode_queries([REGISTRATION]), encoder.encode_passages([REGISTRATION])
    )


def test_no_texts_give_an_empty_matrix_of_the_right_width() -> None:
    assert FakeEncoder(dim=48).encode_passages([]).shape == (0, 48)


def test_a_bare_string_is_rejected_instead_of_encoded_letter_by_letter() -> None:
    with pytest.raises(TypeError):
        FakeEncoder().encode_queries(REGISTRATION)


def test_fake_encoder_satisfies_the_encoder_protocol() -> None:
    encoder = FakeEncoder(dim=64)

    assert isinstance(encoder, Encoder)
    assert encoder.dim == 64
    assert encoder.name == "fake-hashed-word-ngrams-64"


def test_load_encoder_builds_a_fake_encoder_from_its_spec(tmp_path: Path) -> None:
    encoder = load_encoder("fake:32", tmp_path)

    assert isinstance(encoder, FakeEncoder)
    assert encoder.dim == 32
    assert list(tmp_path.iterdir()) == []


def test_using_the_fake_encoder_never_imports_torch() -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from matchers.embeddings import FakeEncoder;"
        "FakeEncoder().encode_queries(['Wohnsitz anmelden']);"
        "heavy = {'torch', 'sentence_transformers', 'transformers'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(REPO)], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
