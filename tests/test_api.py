"""The Python API: three lines from a plain script (no `__main__` guard), as the README shows them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import synthface
from PIL import Image
faces = synthface.generate(2, seed=5)
assert [face.size for face in faces] == [(64, 64)] * 2 and all("signed_png" in face.info for face in faces)
report = synthface.personas(3, "personas/")
assert report.personas == 3 and report.card_written
copy = Image.frombytes("RGB", faces[0].size, faces[0].convert("RGB").tobytes())  # pixels only: no manifest
found = synthface.detect(faces + [copy, "personas/data/"])
print([(d.verdict, d.synthetic) for d in found])
assert [d.verdict for d in found[:2]] == ["synthetic (signed)"] * 2
assert found[2].verdict == "synthetic (watermark)"
assert len(found) == 6 and all(d.synthetic for d in found)
assert synthface.load_generator("bundled").img_resolution == 64
assert type(synthface.load_detector()).__name__ == "SynthDetector"
from synthface.personas import GenerateOptions  # still the package
print("ok", synthface.__version__)
"""


def test_the_readme_api_runs_from_a_plain_script(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    env = {**os.environ, "SYNTHFACE_HOME": str(tmp_path / "home")}
    result = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok 0.1.0" in result.stdout


def test_detect_takes_paths_and_bytes_and_reports_bad_input(tmp_path: Path, few_face_files: list[Path]) -> None:
    import synthface

    photo = few_face_files[0]
    found = synthface.detect([photo, photo.read_bytes(), tmp_path / "missing.png", b"not an image"])
    assert found[0].synthetic is not True and found[1].synthetic is not True
    assert found[2].error and found[3].error and found[3].verdict == "error"
