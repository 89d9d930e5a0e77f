"""The models that ship inside the package, and the one place that says what a model spec means.

`resolve_model_folder(spec, kind)` turns every `--model` (and every `from_pretrained` name) into a
save_pretrained folder, for every kind of model: None is the default (the environment override,
else the bundled model), "bundled" the bundled model, a training run folder its model subfolder,
a folder itself, and anything else a Hugging Face Hub id (downloaded and cached).

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
BUNDLED = "bundled"
KINDS = ("generator", "detector", "attributes")
_ENVIRONMENT = {"generator": GENERATOR_ENV, "detector": DETECTOR_ENV}


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


def looks_like_path(spec: str) -> bool:
    """A spec written as a path (not a Hub id USER/NAME): checked on disk, never looked up on the Hub."""
    return spec.startswith((".", "/", "~", "\\")) or spec.count("/") > 1 or "\\" in spec


def check_model_spec(spec: str, kind: str) -> None:
    """Refuse a model path that does not exist, before any work starts (a Hub id is checked on use)."""
    if spec != BUNDLED and looks_like_path(spec) and not Path(spec).expanduser().exists():
        raise SynthfaceError(f"{kind} model {spec} does not exist; pass a model folder, a Hub id USER/NAME or "
                             f"'{BUNDLED}'")


def resolve_model_folder(spec: str | Path | None, kind: str) -> Path:
    """The save_pretrained folder (config.json + model.safetensors) that `spec` names, for a `kind` of model.

    None: $SYNTHFACE_GENERATOR / $SYNTHFACE_DETECTOR when set, else the bundled model; "bundled": the
    model that ships with synthface; a training run folder: its `generator/`, `detector/` or
    `attributes/` subfolder; a folder: itself; anything else: a Hub repo id.
    """
    if kind not in KINDS:
        raise SynthfaceError(f"unknown kind of model {kind!r}: use one of {', '.join(KINDS)}")
    if spec is None:
        override = os.environ.get(_ENVIRONMENT[kind]) if kind in _ENVIRONMENT else None  # attributes: none
        spec = override or BUNDLED
    if str(spec) == BUNDLED:
        folder = {"generator": DEFAULT_GENERATOR_DIR, "detector": DEFAULT_DETECTOR_DIR,
                  "attributes": DEFAULT_ATTRIBUTE_DIR}[kind]
        if not _is_model_folder(folder):
            raise SynthfaceError(f"the bundled {kind} is missing from {folder}; reinstall synthface, or pass "
                                 "--model DIR_OR_HUB_ID")
        return folder
    path = Path(spec).expanduser()
    if _is_model_folder(path / kind):
        path = path / kind
    if not path.is_dir():
        from synthface.hub import resolve_model

        path = resolve_model(str(spec))
    if not _is_model_folder(path):
        raise SynthfaceError(f"{spec} is not a {kind} folder (needs config.json and model.safetensors)")
    return path
