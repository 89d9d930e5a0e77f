"""A folder of sidecar manifest stores (NAME.c2pa), indexed by watermark payload.

When an image's embedded manifest has been stripped (re-encoded, screenshotted), its
watermark still names the payload; this index maps the payload back to the signed
manifest the generator wrote beside the original, e.g. inside a persona dataset.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from synthface.errors import SynthfaceError
from synthface.provenance.manifest import SOFT_BINDING_LABEL, payload_from_soft_binding


class ManifestStore:
    """Lazily indexes every *.c2pa file under `root` by the payload of its soft binding."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise SynthfaceError(f"manifest store {self.root} is not a folder")
        self._index: dict[str, list[Path]] | None = None
        self.unreadable: list[Path] = []

    def _build(self) -> dict[str, list[Path]]:
        import c2pa

        index: dict[str, list[Path]] = {}
        for path in sorted(self.root.rglob("*.c2pa")):
            try:
                reader = c2pa.Reader("application/c2pa", io.BytesIO(path.read_bytes()))
                report = json.loads(reader.json())
            except (c2pa.C2paError, OSError, ValueError):
                self.unreadable.append(path)
                continue
            active = report.get("manifests", {}).get(report.get("active_manifest") or "", {})
            for assertion in active.get("assertions", []):
                if assertion.get("label") == SOFT_BINDING_LABEL:
                    payload = payload_from_soft_binding(assertion.get("data") or {})
                    if payload is not None:
                        index.setdefault(payload.hex, []).append(path)
        return index

    def lookup(self, payload_hex: str) -> list[Path]:
        """Sidecar paths whose manifest claims this watermark payload (usually one)."""
        if self._index is None:
            self._index = self._build()
        return list(self._index.get(payload_hex, []))

    def __len__(self) -> int:
        if self._index is None:
            self._index = self._build()
        return sum(len(paths) for paths in self._index.values())
