"""Shared test fixtures.

The real face photos live beside the checkout in ``../shared/data/faces``; a user's
fresh clone has no such folder, so every test that needs them skips cleanly.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The loopback Hugging Face Hub server fixture (tests/hub_server.py).
pytest_plugins = ["hub_server"]

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES_DIR = Path(os.environ.get("SYNTHFACE_FACES", REPO_ROOT.parent / "shared" / "data" / "faces"))


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    """The shared real-face folder, or skip the test if this machine has none."""
    if not (FACES_DIR / "celeba").is_dir():
        pytest.skip(f"real face photos not found at {FACES_DIR}")
    return FACES_DIR


@pytest.fixture(scope="session")
def few_face_files(faces_dir: Path) -> list[Path]:
    """A few dozen real photos (CelebA and LFW), stable across runs."""
    celeba = sorted((faces_dir / "celeba" / "test").rglob("*.jpg"))[:24]
    lfw = sorted((faces_dir / "lfw").rglob("*.jpg"))[:12]
    return celeba + lfw


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary SYNTHFACE_HOME with no signing or detector settings from the environment.

    Provenance tests must never touch the user's real keys or config.
    """
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTHFACE_HOME", str(home))
    for name in ("SYNTHFACE_SIGNING_CERT", "SYNTHFACE_SIGNING_KEY", "SYNTHFACE_TRUST_ANCHORS",
                 "SYNTHFACE_DETECTOR"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway local CA and signing certificate, made once per test module."""
    from synthface.provenance import init_keys

    directory = tmp_path_factory.mktemp("keys")
    init_keys(directory)
    return directory
