"""Publish a local folder (persona dataset, generator or detector) as a Hub repo.

The folder is checked before anything is sent: a truncated shard or weights file
must fail here, with its name, rather than land on the Hub half-usable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from synthface.errors import SynthfaceError
from synthface.hub.errors import hub_error
from synthface.pretrained import DISCRIMINATOR_FOLDER

RepoType = Literal["model", "dataset"]
MODEL_FILES = ("config.json", "model.safetensors")
MIXIN_PLACEHOLDER_MARK = "pushed to the Hub using the [PytorchModelHubMixin]"
DEFAULT_COMMIT_MESSAGE = "Upload with synthface publish"


def resolve_token(token: str | None = None) -> str:
    """The token huggingface_hub would use: the argument, else HF_TOKEN, else the stored login."""
    from huggingface_hub import get_token

    resolved = token or get_token()
    if not resolved:
        raise SynthfaceError(
            "no Hugging Face token: pass --token, set HF_TOKEN, or run `hf auth login` first"
        )
    return resolved


def _readme_metadata(folder: Path) -> dict:
    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    from huggingface_hub import RepoCard

    try:
        return RepoCard(readme.read_text(encoding="utf-8"), ignore_metadata_errors=True).data.to_dict()
    except (UnicodeDecodeError, ValueError):
        return {}


def detect_repo_type(folder: str | Path) -> RepoType:
    """'dataset' for data/*.parquet or a dataset card, 'model' for config.json + model.safetensors."""
    folder = Path(folder)
    metadata = _readme_metadata(folder)
    looks_dataset = any((folder / "data").glob("**/*.parquet")) or "configs" in metadata or (
        "task_categories" in metadata
    )
    looks_model = all((folder / name).is_file() for name in MODEL_FILES)
    if looks_dataset and not looks_model:
        return "dataset"
    if looks_model and not looks_dataset:
        return "model"
    what = "both a dataset and a model" if looks_dataset else "neither a dataset (data/*.parquet) nor a model"
    raise SynthfaceError(
        f"{folder} looks like {what} (config.json + model.safetensors); pass --repo-type model or dataset"
    )


def check_model_folder(folder: Path) -> dict:
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise SynthfaceError(f"{folder} is missing {', '.join(missing)}: save the model with save_pretrained")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        message = f"{folder / 'config.json'} is not valid JSON ({err}); re-save the model"
        raise SynthfaceError(message) from err
    from safetensors import safe_open

    try:
        with safe_open(str(folder / "model.safetensors"), framework="numpy") as weights:
            if not list(weights.keys()):
                raise SynthfaceError(f"{folder / 'model.safetensors'} holds no tensors; re-save the model")
    except SynthfaceError:
        raise
    except Exception as err:  # safetensors raises its own error types for truncated or corrupt headers
        message = f"{folder / 'model.safetensors'} is unreadable ({err}); re-save the model"
        raise SynthfaceError(message) from err
    return config if isinstance(config, dict) else {}


def _check_dataset_folder(folder: Path) -> None:
    import pyarrow.parquet as pq

    shards = sorted((folder / "data").glob("**/*.parquet"))
    for shard in shards:
        try:
            pq.read_metadata(shard)
        except Exception as err:  # pyarrow raises ArrowInvalid/OSError for truncated files
            message = f"{shard} is not a readable parquet file ({err}); regenerate that shard"
            raise SynthfaceError(message) from err
    if not (folder / "README.md").is_file():
        raise SynthfaceError(f"{folder} has no README.md dataset card; write one before publishing")


def _card_kind(config: dict) -> str:
    if "z_dim" in config or "w_dim" in config:
        return "generator"
    return "attributes" if config.get("task") == "perceived-gender-presentation" else "detector"


RENDERED_MARK = "<!-- Rendered by synthface"  # in the body of every card synthface renders (cards/*.md)


def _ensure_model_card(folder: Path, config: dict, repo_id: str) -> None:
    """Write our model card, now naming the repo, unless the folder has a card of its own (the mixin's
    placeholder and a card synthface rendered before, without the repo id, do not count)."""
    readme = folder / "README.md"
    existing = readme.read_text(encoding="utf-8", errors="replace") if readme.is_file() else None
    if existing is not None and MIXIN_PLACEHOLDER_MARK not in existing and RENDERED_MARK not in existing:
        return
    write_model_card(folder, config, repo_id)


SAMPLE_GRID = "samples.png"  # shown in the card when present (`synthface sample --out FOLDER/samples.png`)
EVALUATION_TABLE = "evaluation.md"  # a detector's per-source table (`eval-detector --save-to-model`)


def write_model_card(folder: Path, config: dict, repo_id: str | None = None) -> Path:
    """(Re)write `folder/README.md` from its config.json, metrics.json, evaluation.json, memorisation guard and
    sample grid, and the LICENSE.md its license_link points at."""
    from synthface.hub.cards import LICENSE_FILE, TRAINING_DATA, license_text, render_model_card, training_data_of
    from synthface.io_utils import write_text_atomic

    metrics: dict = {}
    metrics_file = folder / "metrics.json"
    if metrics_file.is_file():
        try:
            loaded = json.loads(metrics_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise SynthfaceError(f"{metrics_file} is not valid JSON ({err}); fix or remove it") from err
        metrics = {k: v for k, v in loaded.items() if isinstance(v, (int, float, str))}
    training_data = config.get("training_data")
    known = isinstance(training_data, list) and all(key in TRAINING_DATA for key in training_data)
    if not (known and training_data):
        training_data = list(TRAINING_DATA)
    kind = _card_kind(config)
    guard = None
    if kind == "generator":
        from synthface.guard import load_guard

        loaded = load_guard(folder)
        guard = None if loaded is None else {**loaded.info, "threshold": loaded.threshold}
    grid = SAMPLE_GRID if (folder / SAMPLE_GRID).is_file() else None
    table = folder / EVALUATION_TABLE
    evaluation_file = folder / "evaluation.json"
    evaluation = None
    if kind != "generator" and evaluation_file.is_file():
        evaluation = json.loads(evaluation_file.read_text(encoding="utf-8"))
    if kind == "attributes":
        training_data = list(training_data_of(kind))
    card = render_model_card(kind, config, metrics, repo_id=repo_id, training_data=training_data, guard=guard,
                             sample_grid=grid,
                             discriminator=(folder / DISCRIMINATOR_FOLDER / "model.safetensors").is_file(),
                             evaluation_table=table.read_text(encoding="utf-8") if table.is_file() else None,
                             evaluation=evaluation)
    readme = folder / "README.md"
    write_text_atomic(readme, card)
    write_text_atomic(folder / LICENSE_FILE, license_text(kind, training_data))
    return readme


_KEY_SUFFIXES = frozenset({".key", ".p12", ".pfx", ".p8"})
_KEY_MARKERS = (b"PRIVATE KEY-----", b"PRIVATE KEY BLOCK-----")


def private_key_files(folder: Path) -> list[Path]:
    """Files in `folder` that look like private keys: by name, or a PEM private-key header in their head.

    Publishing uploads a folder as it is, and a signing key dropped into it (a copy of
    `~/.config/synthface/keys`) would let anyone sign "synthface" images as its owner.
    """
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix.lower() in _KEY_SUFFIXES:
            found.append(path)
            continue
        try:
            with open(path, "rb") as handle:
                head = handle.read(4096)
        except OSError:
            continue
        if any(marker in head for marker in _KEY_MARKERS):
            found.append(path)
    return found


def publish_folder(
    folder: str | Path,
    repo_id: str,
    repo_type: RepoType | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
) -> str:
    """Create `repo_id` if needed and upload `folder` to it in one commit; returns the repo's URL.

    `repo_type=None` detects it from the folder (see `detect_repo_type`). A model folder
    gets a synthface model card as README.md if it has none.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError
    from huggingface_hub.utils import validate_repo_id

    folder = Path(folder)
    if not folder.is_dir():
        raise SynthfaceError(f"{folder} is not a folder; pass the folder to publish")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise hub_error("publish to", repo_id, err) from err
    if "/" not in repo_id:
        raise SynthfaceError(f"repo {repo_id!r} needs a namespace: use USER/NAME")
    keys = private_key_files(folder)
    if keys:
        listed = ", ".join(str(path.relative_to(folder)) for path in keys[:3]) + (" ..." if len(keys) > 3 else "")
        raise SynthfaceError(f"{folder} holds what look like private keys ({listed}); move them out before "
                             "publishing: anyone with them could sign images in your name")
    repo_type = repo_type or detect_repo_type(folder)
    if repo_type == "model":
        _ensure_model_card(folder, check_model_folder(folder), repo_id)
    elif repo_type == "dataset":
        _check_dataset_folder(folder)
    else:
        raise SynthfaceError(f"unknown repo type {repo_type!r}: use model or dataset")

    api = HfApi(token=resolve_token(token))
    try:
        api.whoami()
        repo_url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            repo_type=repo_type,
            commit_message=commit_message,
            ignore_patterns=[".*", "**/.*", "*.tmp"],  # hidden files and our atomic-write leftovers
        )
    except HfHubHTTPError as err:
        raise hub_error("publish to", repo_id, err) from err
    except ValueError as err:  # invalid README YAML is reported by huggingface_hub as ValueError
        reason = " ".join(str(err).split())
        raise SynthfaceError(f"could not publish {folder} to {repo_id!r}: {reason}") from err
    return str(repo_url)
