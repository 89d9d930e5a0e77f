"""Verify an image: its C2PA manifest (embedded, sidecar, or recovered via the watermark) and
its watermark, each reported separately so a user sees exactly which layer held.

The reader is c2pa's own validator, independent of our signing code: a manifest counts as
valid only if c2pa says so. Trust is decided against the PEM roots the caller passes.
"""

from __future__ import annotations

import io
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from synthface.errors import SynthfaceError
from synthface.provenance.imageio import MIME_TYPES, decode_pixels, sniff_format
from synthface.provenance.manifest import (
    ACTIONS_LABEL,
    SOFT_BINDING_LABEL,
    SYNTHFACE_LABEL,
    TRAINED_ALGORITHMIC_MEDIA,
    TRAINING_LABEL,
    payload_from_soft_binding,
)
from synthface.provenance.signing import sidecar_path
from synthface.provenance.store import ManifestStore
from synthface.provenance.watermark import decode_watermark

_local = threading.local()


@dataclass
class VerificationReport:
    """Everything `synthface verify` says about one image. `None` means "could not tell"."""

    source: str
    format: str | None = None
    error: str | None = None
    manifest: str = "absent"  # embedded | sidecar | store | absent
    manifest_file: str | None = None
    manifest_label: str | None = None
    signature_valid: bool | None = None
    signer: str | None = None
    signer_trusted: bool | None = None
    data_hash: str | None = None  # match | mismatch
    ai_generated: bool | None = None
    synthface: dict[str, Any] | None = None
    training_mining: str | None = None
    watermark_found: bool | None = None
    watermark_payload: str | None = None
    manifest_payload: str | None = None
    watermark_matches_manifest: bool | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """One phrase summarising the result, worst finding first."""
        if self.error:
            return "error"
        if self.manifest == "absent":
            return "watermarked, no manifest" if self.watermark_found else "no provenance found"
        if not self.signature_valid:
            return "invalid signature"
        if self.data_hash == "mismatch":
            return "re-encoded since signing" if self.manifest == "store" else "file changed since signing"
        if not self.signer_trusted:
            return "valid but untrusted signer"
        return "verified"

    @property
    def ok(self) -> bool:
        return self.verdict == "verified"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}

    def summary_line(self) -> str:
        if self.error:
            return f"{self.source}: error: {self.error}"
        parts = [f"{self.source}: {self.verdict}", f"manifest {self.manifest}"]
        if self.manifest != "absent":
            parts.append("signature valid" if self.signature_valid else "signature INVALID")
            parts.append("signer trusted" if self.signer_trusted else "signer untrusted")
            parts.append(f"data hash {self.data_hash or 'unknown'}")
            if self.synthface:
                s = self.synthface
                parts.append(
                    f"generator {s.get('generator')} seed {s.get('seed')} persona {s.get('persona_id')}"
                )
        if self.watermark_found:
            match = {True: "matches manifest", False: "DIFFERS from manifest", None: "no manifest to match"}
            parts.append(f"watermark {self.watermark_payload} ({match[self.watermark_matches_manifest]})")
        else:
            parts.append("no watermark")
        return "; ".join(parts)


def _reading_context(trust_anchors: str):
    import c2pa

    cache = getattr(_local, "contexts", None)
    if cache is None or _local.pid != os.getpid():  # a forked child cannot reuse its parent's
        cache = _local.contexts = {}
        _local.pid = os.getpid()
    if trust_anchors not in cache:
        from synthface.provenance.keys import ACCEPTED_EKUS

        # c2pa checks the signer's extended key usage against `trust_config`; left unset, only
        # emailProtection passes, so state the C2PA list (documentSigning, c2pa claim signing...).
        settings: dict[str, Any] = {
            "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            "trust": {"trust_config": "".join(f"{oid.dotted_string}\n" for oid in sorted(
                ACCEPTED_EKUS, key=lambda oid: oid.dotted_string))},
        }
        if trust_anchors.strip():
            settings["trust"]["user_anchors"] = trust_anchors
        cache[trust_anchors] = c2pa.Context.from_dict(settings)
    return cache[trust_anchors]


def _read_manifest(data: bytes, fmt: str, context, manifest_store: bytes | None) -> dict | None:
    import c2pa

    stream = io.BytesIO(data)
    try:
        if manifest_store is None:
            reader = c2pa.Reader.try_create(MIME_TYPES[fmt], stream, None, context)
            if reader is None:
                return None
        else:
            reader = c2pa.Reader(MIME_TYPES[fmt], stream, manifest_store, context)
        with reader:
            return json.loads(reader.json())
    except c2pa.C2paError as exc:
        raise SynthfaceError(f"the C2PA data is unreadable ({str(exc).splitlines()[0]})") from None


def _apply_manifest(report: VerificationReport, store_json: dict) -> None:
    label = store_json.get("active_manifest")
    active = store_json.get("manifests", {}).get(label or "", {})
    report.manifest_label = label
    results = (store_json.get("validation_results") or {}).get("activeManifest") or {}
    success = {item.get("code") for item in results.get("success", [])}
    failure = [item.get("code") for item in results.get("failure", [])]
    report.failures = failure
    report.signature_valid = "claimSignature.validated" in success and not any(
        code.startswith(("claimSignature.", "signingCredential.invalid", "signingCredential.revoked"))
        for code in failure
    )
    if "signingCredential.trusted" in success:
        report.signer_trusted = True
    elif any(code.startswith("signingCredential.") for code in failure):
        report.signer_trusted = False
    if "assertion.dataHash.mismatch" in failure:
        report.data_hash = "mismatch"
    elif "assertion.dataHash.match" in success:
        report.data_hash = "match"
    info = active.get("signature_info") or {}
    report.signer = ", ".join(v for v in (info.get("common_name"), info.get("issuer")) if v) or None
    for assertion in active.get("assertions", []):
        name, data = assertion.get("label"), assertion.get("data") or {}
        if name == ACTIONS_LABEL:
            report.ai_generated = any(
                action.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA
                for action in data.get("actions", [])
            )
        elif name == SYNTHFACE_LABEL:
            report.synthface = data
        elif name == TRAINING_LABEL:
            uses = {entry.get("use") for entry in (data.get("entries") or {}).values()}
            report.training_mining = uses.pop() if len(uses) == 1 else "mixed"
        elif name == SOFT_BINDING_LABEL:
            payload = payload_from_soft_binding(data)
            report.manifest_payload = payload.hex if payload else None


def verify_image(
    source: bytes | str | Path,
    trust_anchors: str = "",
    store: ManifestStore | None = None,
    name: str | None = None,
    pixels: np.ndarray | None = None,
) -> VerificationReport:
    """Verify one image (bytes or a path). Never raises for bad input: the report's `error`
    field says what went wrong, so a batch can go on past it. `pixels`: the image already
    decoded (uint8 RGB), so a caller that needs them too decodes a large photo only once."""
    label = name or (str(source) if isinstance(source, (str, Path)) else "<bytes>")
    report = VerificationReport(source=label)
    try:
        _verify_into(report, source, trust_anchors, store, pixels)
    except SynthfaceError as exc:
        report.error = str(exc)
    return report


def _verify_into(report: VerificationReport, source: bytes | str | Path, trust_anchors: str,
                 store: ManifestStore | None, pixels: np.ndarray | None) -> None:
    path = Path(source) if isinstance(source, (str, Path)) else None
    if path is not None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SynthfaceError("no such file") from None
        except IsADirectoryError:
            raise SynthfaceError("is a folder, not an image") from None
        except OSError as exc:
            raise SynthfaceError(f"cannot read it ({exc.strerror})") from None
    else:
        data = bytes(source)
    fmt = sniff_format(data)
    if fmt is None:
        raise SynthfaceError("unsupported format: only PNG and JPEG images can be verified")
    report.format = fmt
    if pixels is None:
        pixels = decode_pixels(data, report.source)

    try:
        reading = decode_watermark(pixels)
        report.watermark_found = reading.found
        report.watermark_payload = reading.payload.hex if reading.payload else None
    except SynthfaceError:  # too small to read a mark from: say so through watermark_found=None
        report.watermark_found = None

    context = _reading_context(trust_anchors)
    manifest_json = _read_manifest(data, fmt, context, None)
    if manifest_json is not None:
        report.manifest = "embedded"
    elif path is not None and sidecar_path(path).is_file():
        manifest_json = _read_manifest(data, fmt, context, sidecar_path(path).read_bytes())
        report.manifest, report.manifest_file = "sidecar", str(sidecar_path(path))
    elif store is not None and report.watermark_payload:
        candidates = store.lookup(report.watermark_payload)
        if candidates:
            manifest_json = _read_manifest(data, fmt, context, candidates[0].read_bytes())
            report.manifest, report.manifest_file = "store", str(candidates[0])
    if manifest_json is not None:
        _apply_manifest(report, manifest_json)
        if report.watermark_found is not None and report.manifest_payload is not None:
            report.watermark_matches_manifest = report.watermark_payload == report.manifest_payload
