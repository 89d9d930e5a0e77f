"""How `synthface detect` prints: an aligned table for people, JSON lines for programs."""

from __future__ import annotations

import json
from collections import Counter

from detectors.detect import ERROR, LIKELY_PREFIX, Detection

_COLUMNS = (("verdict", 38), ("C2PA", 10), ("watermark", 10), ("p", 5))


def table_header() -> str:
    return "  ".join(name.ljust(width) for name, width in _COLUMNS) + "  file"


def table_row(detection: Detection) -> str:
    if detection.error:
        return f"{'error'.ljust(_COLUMNS[0][1])}  {'-'.ljust(10)}  {'-'.ljust(10)}  {'-'.ljust(5)}  " \
               f"{detection.path}: {detection.error}"
    mark = detection.watermark.get("found")
    mark_text = "found" if mark else "none" if mark is False else "-"
    probability = detection.classifier.get("probability") if detection.classifier else None
    cells = (
        detection.verdict,
        str(detection.c2pa.get("status", "-")).split(" ")[0],
        mark_text,
        f"{probability:.2f}" if probability is not None else "-",
    )
    row = "  ".join(cell.ljust(width) for cell, (_, width) in zip(cells, _COLUMNS, strict=True))
    return f"{row}  {detection.path}"


def json_line(detection: Detection) -> str:
    return json.dumps(detection.to_json(), sort_keys=True)


class BatchTally:
    """What `detect` reports once a batch is done: verdict counts and whether any input failed,
    was flagged, or went unclassified for want of a model. Kept instead of the detections
    themselves, so a batch of any size holds constant memory."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.inputs = 0
        self.any_error = self.any_synthetic = self.any_unclassified = False

    def add(self, detection: Detection) -> None:
        verdict = detection.verdict
        self.counts[f"{LIKELY_PREFIX} (classifier)" if verdict.startswith(LIKELY_PREFIX) else verdict] += 1
        self.inputs += 1
        self.any_error |= bool(detection.error)
        self.any_synthetic |= bool(detection.synthetic)
        self.any_unclassified |= any("no detector model" in reason for reason in detection.reasons)

    def summary_line(self) -> str:
        synthetic = sum(n for verdict, n in self.counts.items() if verdict != ERROR and "synthetic" in verdict
                        and not verdict.startswith("no evidence"))
        parts = [f"{verdict}: {n}" for verdict, n in sorted(self.counts.items())]
        return f"{self.inputs} inputs, {synthetic} flagged synthetic ({'; '.join(parts)})"
