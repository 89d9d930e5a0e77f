"""The models that ship inside the package: what `--model` means when it is not given.

Why ship weights: on a fresh, offline machine `pip install` followed by
`synthface generate-personas --count 16 --out personas/` must give real-looking, signed
faces, and `synthface detect` must have a classifier, with no training step and no Hub.
The generator (EMA weights, its memorisation guard and model card) lives in
`synthface/weights/`, the detector in `detectors/weights/`; both are ordinary
`save_pretrained` folders. `$SYNTHFACE_GENERATOR` / `$SYNTHFACE_DETECTOR` (a folder or a
Hub id) replace them, e.g. for an organisation's own models.
"""

from __future__ import annotations

import os
from pathlib import Path

from synthface.errors import SynthfaceError

# A generator folder may carry the discriminator trained with it here (a save_pretrained folder of its
# own), so that the folder alone can start a fine-tuning run (`synthface train --init-from`).
DISCRIMINATOR_FOLDER = "discriminator"
GENERATOR_ENV = "SYNTHFACE_GENERATOR"
DETECTOR_ENV = "SYNTHFACE_DETECTOR"
DEFAULT_GENERATOR_DIR = Path(__file__).resolve().parent / "weights" / "synthface-faces64"
DEFAULT_DETECTOR_DIR = Path(__file__).resolve().parents[1] / "detectors" / "weights"
DEFAULT_ATTRIBUTE_DIR = Path(__file__).resolve().parent / "weights" / "synthface-attributes"


def _is_model_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def default_generator_spec() -> str:
    """$SYNTHFACE_GENERATOR, else the bundled 64 px face generator."""
    override = os.environ.get(GENERATOR_ENV)
    if override:
        return override
    if not _is_model_folder(DEFAULT_GENERATOR_DIR):
        raise SynthfaceError(
            f"the bundled generator is missing from {DEFAULT_GENERATOR_DIR}; reinstall synthface, "
            f"or pass --model DIR_OR_HUB_ID (or set ${GENERATOR_ENV})"
        )
    return str(DEFAULT_GENERATOR_DIR)


def default_detector_spec() -> str | None:
    """$SYNTHFACE_DETECTOR, else the bundled detector; None if neither exists."""
    override = os.environ.get(DETECTOR_ENV)
    if override:
        return override
    return str(DEFAULT_DETECTOR_DIR) if _is_model_folder(DEFAULT_DETECTOR_DIR) else None
