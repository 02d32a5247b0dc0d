"""A benchmark's scratch folder (database, snapshot, generated files, server logs): removed
when the run exits, so reruns do not fill the disk (a 1 M-unit load run writes ≈ 3 GB).
`TM_BENCH_KEEP=1` keeps it for a look at the logs; its path is printed at the start."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path


def scratch_folder(prefix: str) -> Path:
    """A new folder under the system's temp folder, removed at exit unless TM_BENCH_KEEP=1."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.environ.get("TM_BENCH_KEEP") == "1":
        print(f"scratch folder (kept): {folder}", file=sys.stderr)
    else:
        print(f"scratch folder, removed at exit: {folder}", file=sys.stderr)
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
