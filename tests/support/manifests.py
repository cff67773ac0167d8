"""Where the shared manifests from the books live (test data, used unchanged).

``KEMU_SHARED_MANIFESTS`` wins; otherwise ``../shared/manifests`` next to the repository, then
``/work/shared/manifests``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_manifests() -> Path:
    candidates = [os.environ.get("KEMU_SHARED_MANIFESTS", ""),
                  str(REPO.parent / "shared" / "manifests"), "/work/shared/manifests"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "SOURCES.md").exists():
            return Path(candidate)
    raise FileNotFoundError("shared manifests not found; set KEMU_SHARED_MANIFESTS")


SHARED = shared_manifests()
