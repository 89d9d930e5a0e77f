"""One way for every benchmark to keep its numbers: `benchmarks/results/NAME.json`, written atomically.

A benchmark that is killed halfway must not leave a half-written results file that a later
README figure or issue note would quote, so everything goes through `write_text_atomic`.
Scripts import this as `from _results import save_results` (Python puts `benchmarks/` on
the path when a script in it is run).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthface.io_utils import write_text_atomic

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = RESULTS_DIR.parent.parent


def repo_relative(path: str | Path) -> str:
    """`path` relative to the repo when it lies inside it, else as given: committed results must not
    name one machine's folders."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def save_results(path: Path, result: Any, *, quiet: bool = False) -> None:
    """Write `result` as indented JSON to `path` (atomically) and say where, relative to the repo."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(result, indent=2) + "\n")
    if not quiet:
        print(f"wrote {repo_relative(path)}")


def print_measures(result: dict[str, Any], width: int = 40) -> None:
    """Print a flat `measure  value` table, the plain form several benchmarks share."""
    print(f"{'measure':{width}s} value")
    for key, value in result.items():
        print(f"{key:{width}s} {value}")
