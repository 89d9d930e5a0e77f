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


def summary_counts(detections: list[Detection]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for detection in detections:
        verdict = detection.verdict
        counts[f"{LIKELY_PREFIX} (classifier)" if verdict.startswith(LIKELY_PREFIX) else verdict] += 1
    return counts


def summary_line(detections: list[Detection]) -> str:
    counts = summary_counts(detections)
    synthetic = sum(n for verdict, n in counts.items() if verdict != ERROR and "synthetic" in verdict
                    and not verdict.startswith("no evidence"))
    parts = [f"{verdict}: {n}" for verdict, n in sorted(counts.items())]
    return f"{len(detections)} inputs, {synthetic} flagged synthetic ({'; '.join(parts)})"
