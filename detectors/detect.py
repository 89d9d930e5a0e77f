"""`synthface detect`: one verdict per image from three layers of evidence, strongest first.

1. C2PA: a valid manifest that declares AI generation settles it (`synthetic (signed)`);
   a synthface/AI manifest whose signature or data hash no longer holds means someone
   edited a labelled image (`synthetic (tampered manifest)`).
2. Watermark: our payload in the pixels survives re-encoding and screenshots; with
   `--store` it leads back to the signed manifest (`synthetic (watermark)`).
3. Classifier: only when neither layer settled it is the detector model loaded (with
   numpy, see `detectors.scoring`: torch alone would take most of the cold-start budget).
   It finds the largest face, scores its canonical view (`detectors.analysis`) and answers
   `likely synthetic`, `uncertain` (between the thresholds, or an unfamiliar kind of image)
   or `no evidence of synthesis`; an image without a usable face gets `no face found`.

Nothing here raises for a bad file: each image yields a `Detection`, errors included,
so a batch always goes on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from detectors.outcomes import LIKELY_SYNTHETIC as LIKELY_PREFIX
from detectors.outcomes import NO_EVIDENCE, NO_FACE, UNCERTAIN
from synthface.errors import SynthfaceError
from synthface.pretrained import check_model_spec, default_detector_spec
from synthface.provenance.inputs import InputItem, ShardReader

__all__ = ["ERROR", "LIKELY_PREFIX", "NO_EVIDENCE", "NO_FACE", "SIGNED", "TAMPERED", "UNCERTAIN", "WATERMARK",
           "DetectPipeline", "Detection"]

SIGNED = "synthetic (signed)"
TAMPERED = "synthetic (tampered manifest)"
WATERMARK = "synthetic (watermark)"
ERROR = "error"


def classifier_verdict(probability: float) -> str:
    return f"{LIKELY_PREFIX} (classifier p={probability:.2f})"


def is_synthetic_verdict(verdict: str) -> bool:
    return verdict in (SIGNED, TAMPERED, WATERMARK) or verdict.startswith(LIKELY_PREFIX)


def synthetic_answer(verdict: str) -> bool | None:
    """True: judged synthetic; False: no evidence of synthesis; None: undecided (uncertain, no face)."""
    if is_synthetic_verdict(verdict):
        return True
    return False if verdict == NO_EVIDENCE else None


@dataclass
class Detection:
    """What `detect` found about one input (the JSON line of `--json`)."""

    path: str
    verdict: str = NO_EVIDENCE
    reasons: list[str] = field(default_factory=list)
    c2pa: dict[str, Any] = field(default_factory=lambda: {"status": "not checked"})
    watermark: dict[str, Any] = field(default_factory=lambda: {"found": None})
    classifier: dict[str, Any] | None = None
    error: str | None = None

    @property
    def synthetic(self) -> bool | None:
        return None if self.error else synthetic_answer(self.verdict)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "synthetic": self.synthetic}


def _c2pa_summary(report: Any) -> dict[str, Any]:
    if report.manifest == "absent":
        return {"status": "absent", "manifest": "absent"}
    if not report.signature_valid or (report.data_hash == "mismatch" and report.manifest != "store"):
        status = "tampered"
    else:
        status = "trusted" if report.signer_trusted else "untrusted"
    info = report.synthface or {}
    return {
        "status": status,
        "manifest": report.manifest,
        "manifest_file": report.manifest_file,
        "signature_valid": report.signature_valid,
        "signer": report.signer,
        "signer_trusted": report.signer_trusted,
        "data_hash": report.data_hash,
        "ai_generated": report.ai_generated,
        "generator": info.get("generator"),
        "persona": info.get("persona_id"),
        "seed": info.get("seed"),
        "failures": list(report.failures),
    }


def _watermark_summary(report: Any) -> dict[str, Any]:
    matches = None
    if report.watermark_found and report.manifest_payload is not None:
        if report.watermark_payload == report.manifest_payload:
            matches = "store" if report.manifest == "store" else "manifest"
        else:
            matches = "mismatch"
    return {"found": report.watermark_found, "payload": report.watermark_payload, "matches": matches}


def _signer_phrase(c2pa: dict[str, Any]) -> str:
    who = c2pa.get("signer") or "unknown signer"
    return f"{who} ({'trusted' if c2pa.get('signer_trusted') else 'NOT trusted'})"


def provenance_verdict(report: Any, detection: Detection) -> bool:
    """Fill `detection` from a `VerificationReport`; True when provenance settled the verdict."""
    c2pa, mark = _c2pa_summary(report), _watermark_summary(report)
    detection.c2pa, detection.watermark = c2pa, mark
    claims_ai = bool(report.ai_generated) or report.synthface is not None
    origin = ", ".join(
        f"{key} {c2pa[key]}" for key in ("generator", "persona") if c2pa.get(key) is not None
    )
    if report.manifest in ("embedded", "sidecar"):
        where = ("embedded C2PA manifest" if report.manifest == "embedded"
                 else f"sidecar {c2pa['manifest_file']}")
        if c2pa["status"] == "tampered":
            broken = ("signature is invalid" if not report.signature_valid
                      else "file changed since signing (its pixels or other data)")
            detection.reasons.append(f"{where}: {broken}")
            if claims_ai or report.watermark_found:
                detection.reasons.append("the manifest declares the image AI-generated" if claims_ai
                                         else "the synthface watermark is still in the pixels")
                detection.verdict = TAMPERED
                return True
            return False
        if claims_ai:
            detection.verdict = SIGNED
            detection.reasons.append(f"{where} declares AI generation, signed by {_signer_phrase(c2pa)}")
            if origin:
                detection.reasons.append(origin)
            if mark["matches"] == "mismatch":
                detection.reasons.append("watermark payload differs from the manifest's")
            return True
        detection.reasons.append(f"{where} signed by {_signer_phrase(c2pa)} does not declare AI generation")
        if report.watermark_found:  # only synthface-generated pixels carry this mark
            detection.verdict = WATERMARK
            detection.reasons.append(f"yet the pixels carry synthface watermark {mark['payload']}")
            return True
        return False
    if report.manifest == "store":
        detection.verdict = WATERMARK
        detection.reasons.append(
            f"watermark {mark['payload']} leads to signed manifest {c2pa['manifest_file']} in the store, "
            f"signed by {_signer_phrase(c2pa)}"
        )
        if report.data_hash == "mismatch":
            detection.reasons.append("pixels re-encoded or edited since signing")
        if c2pa["status"] == "tampered":
            detection.reasons.append("that manifest's signature is invalid")
        if origin:
            detection.reasons.append(origin)
        return True
    if report.watermark_found:
        detection.verdict = WATERMARK
        detection.reasons.append(
            f"synthface watermark {mark['payload']} found; no manifest (pass --store DIR to look it up)"
        )
        return True
    detection.reasons.append("no C2PA manifest" + (" and no watermark" if report.watermark_found is False
                                                   else "; too small (or a grey thumbnail) to read a watermark from"))
    return False


class ModelUnavailable(SynthfaceError):
    """The detector model cannot be loaded: every later image would fail alike, so the run stops."""


class DetectPipeline:
    """Examine images one by one; the classifier model is loaded on first need only."""

    def __init__(
        self,
        model: str | None = None,
        threshold: float | None = None,
        store: str | Path | None = None,
        trust_anchors: str = "",
        use_classifier: bool = True,
    ) -> None:
        if threshold is not None and not 0.0 < threshold < 1.0:
            raise SynthfaceError(f"--threshold must be between 0 and 1 (exclusive), got {threshold}")
        self.model_spec = model or (default_detector_spec() if use_classifier else None)
        if self.model_spec is not None and use_classifier:
            check_model_spec(self.model_spec, "detector")
        self.threshold = threshold
        self.trust_anchors = trust_anchors
        self.use_classifier = use_classifier
        self.store = None
        if store is not None:
            from synthface.provenance.store import ManifestStore

            self.store = ManifestStore(store)
        self._model: Any = None
        self.model_loads = 0
        self._shards = ShardReader()

    @property
    def classifier_loaded(self) -> bool:
        return self._model is not None

    def model(self) -> Any:
        if self._model is None:
            from detectors.scoring import load_numpy_detector

            try:
                self._model = load_numpy_detector(self.model_spec)
            except SynthfaceError as exc:
                raise ModelUnavailable(str(exc)) from None
            self.model_loads += 1
        return self._model

    def detect(self, item: InputItem) -> Detection:
        detection = Detection(path=item.label)
        if item.problem is not None or item.path is None:
            detection.verdict, detection.error = ERROR, item.problem or "unusable input"
            return detection
        try:
            self._detect_into(item.source(self._shards), detection)
        except ModelUnavailable:
            raise
        except SynthfaceError as exc:
            detection.verdict, detection.error = ERROR, _without_name(str(exc), item.label)
        return detection

    def detect_bytes(self, data: bytes, label: str) -> Detection:
        """`detect` for an image held in memory (the Python API's images)."""
        detection = Detection(path=label)
        try:
            self._detect_into(data, detection)
        except ModelUnavailable:
            raise
        except SynthfaceError as exc:
            detection.verdict, detection.error = ERROR, _without_name(str(exc), label)
        return detection

    def _detect_into(self, source: bytes | Path, detection: Detection) -> None:
        import numpy as np

        from synthface.data import load_image
        from synthface.provenance.imageio import sniff_format

        try:
            if isinstance(source, bytes):
                head = source[:16]
            else:
                with open(source, "rb") as handle:
                    head = handle.read(16)
        except OSError as exc:
            raise SynthfaceError(f"cannot read it ({exc.strerror or exc})") from None
        image = load_image(source, name=detection.path)  # decoded once, for every layer
        if sniff_format(head) is not None:
            from synthface.provenance.verify import verify_image

            report = verify_image(source, self.trust_anchors, self.store, name=detection.path,
                                  pixels=np.asarray(image))
            if report.error:
                raise SynthfaceError(report.error)
            if provenance_verdict(report, detection):
                return
        else:
            detection.c2pa = {"status": "unsupported format"}
            detection.reasons.append("C2PA and watermark checked only in PNG and JPEG files")
        self._classify(image, detection)

    def _classify(self, image: Any, detection: Detection) -> None:
        if not self.use_classifier:
            return
        if self.model_spec is None:
            detection.reasons.append("classifier not run: no detector model (pass --model DIR_OR_HUB_ID)")
            return
        from dataclasses import replace

        from detectors.analysis import analyse_images

        model = self.model()
        heads = model.heads
        if self.threshold is not None:
            heads = replace(heads, threshold_synthetic=self.threshold,
                            threshold_real=min(heads.threshold_real, self.threshold))
        analysis = analyse_images([image], model, heads)[0]
        detection.classifier = {**analysis.to_json(), **heads.summary(), "model": str(self.model_spec)}
        detection.reasons.append(analysis.reason)
        # The classifier's outcome is the verdict, with p appended when it calls the image synthetic.
        is_likely = analysis.outcome == LIKELY_PREFIX
        detection.verdict = classifier_verdict(analysis.probability) if is_likely else analysis.outcome


def _without_name(message: str, label: str) -> str:
    """Error messages from lower layers often repeat the file name; the row already shows it."""
    for prefix in (f"cannot read image '{label}': ", f"{label} "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message
