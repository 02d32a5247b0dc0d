"""The near-duplicate index on disk: one directory of numpy arrays, opened with mmap.

Layout of a saved index (`save`):

    index.json          format, shingle size, seed, dimension, region names, languages
    lang-0/…            the arrays of the first language (`index.json` names it), one `.npy`
                        per array: keys, region_codes, has_vector, has_title (per row);
                        signatures (rows × 128 uint32), vectors / title_vectors (rows × dim
                        float32); words / shingles (flat uint32 + offsets), titles (UTF-8 +
                        offsets); band_keys (sorted uint64) with band_rows

`load` maps every array read-only (`np.load(mmap_mode="r")`): opening costs milliseconds, the
pages stay in the page cache, shared by every process that maps them; only the per-row ids
and flags are copied (`matchers.near_duplicates._LanguageStore.from_arrays`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from matchers.near_duplicates import NearDuplicateIndex

FORMAT = 1
META = "index.json"


def save(index: NearDuplicateIndex, directory: Path) -> int:
    """Write the index's live pages into `directory` (created), fsync each file; its bytes."""
    return save_arrays(*index.to_arrays(), directory)


def save_arrays(
    meta: Mapping[str, Any], arrays: Mapping[str, Mapping[str, np.ndarray]], directory: Path
) -> int:
    """Write what `NearDuplicateIndex.to_arrays` returned into `directory`; its bytes."""
    directory.mkdir(parents=True, exist_ok=True)
    total = 0
    for number, language in enumerate(meta["languages"]):
        folder = directory / f"lang-{number}"
        folder.mkdir()
        for name, array in sorted(arrays[language].items()):
            with (folder / f"{name}.npy").open("wb") as out:
                np.save(out, np.ascontiguousarray(array), allow_pickle=False)
                out.flush()
                os.fsync(out.fileno())
            total += int(array.nbytes)
        _fsync_directory(folder)
    with (directory / META).open("w", encoding="utf-8") as out:
        json.dump({**meta, "format": FORMAT}, out, ensure_ascii=False)
        out.flush()
        os.fsync(out.fileno())
    return total


def load(directory: Path, *, mmap_files: bool = True) -> NearDuplicateIndex:
    """Open an index `save` wrote; `mmap_files` maps the arrays instead of reading them.

    Raises FileNotFoundError when it is gone and ValueError for another format."""
    meta = json.loads((directory / META).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(f"near-duplicate index format {meta.get('format')}, expected {FORMAT}")
    mode: Literal["r"] | None = "r" if mmap_files else None
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for number, language in enumerate(meta["languages"]):
        folder = directory / f"lang-{number}"
        arrays[language] = {
            path.stem: _load_array(path, mode) for path in sorted(folder.glob("*.npy"))
        }
    return NearDuplicateIndex.from_arrays(meta, arrays)


def _load_array(path: Path, mode: Literal["r"] | None) -> np.ndarray:
    # np.load cannot map an empty file region: small or empty arrays are read.
    if mode is not None and path.stat().st_size <= 4096:
        mode = None
    # Plain ndarray views of mapped files (as in matchers.form_index): indexing a np.memmap runs
    # Python code per slice, ≈ 2 ms a query at 100 000 pages.
    return np.asarray(np.load(path, mmap_mode=mode, allow_pickle=False))


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


__all__ = ["FORMAT", "load", "save", "save_arrays"]
