"""Accept a local folder or a Hub repo id wherever synthface takes a model."""

from __future__ import annotations

from pathlib import Path

from synthface.errors import SynthfaceError
from synthface.hub.errors import hub_error
from synthface.pretrained import looks_like_path


def resolve_model(
    dir_or_hub_id: str | Path,
    repo_type: str = "model",
    revision: str | None = None,
    token: str | None = None,
) -> Path:
    """An existing folder as-is; otherwise download the Hub repo (into the HF cache) and return its folder."""
    spec = str(dir_or_hub_id)
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise SynthfaceError(f"{spec} is a file; pass the model's folder (config.json + model.safetensors)")
    if isinstance(dir_or_hub_id, Path) or looks_like_path(spec):
        raise SynthfaceError(f"{spec} does not exist; pass a model folder or a Hub repo id USER/NAME")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(spec, repo_type=repo_type, revision=revision, token=token))
    except (HfHubHTTPError, HFValidationError, LocalEntryNotFoundError) as err:
        raise SynthfaceError(
            f"{spec} is neither a local folder nor a reachable {repo_type} repo on the Hub: "
            f"{str(hub_error('download', spec, err)).split(': ', 1)[-1]}"
        ) from err
