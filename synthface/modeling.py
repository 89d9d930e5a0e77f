"""Self-describing models: config.json + model.safetensors, from a folder or the Hub.

huggingface_hub's `PyTorchModelHubMixin` does the work (config capture from the
constructor, safetensors, Hub download). This subclass loads strictly (a weights
file that lacks a tensor the config calls for, or holds one it does not, is an error,
never a model left with random weights), keeps local loads quiet (the mixin prints a
line to stdout for local folders, which would corrupt the JSON that `synthface detect
--json` writes) and gives saved weights the usual file mode: safetensors (0.8) creates
its files 0600, so a model trained on a shared server would otherwise be unreadable to
everyone but its trainer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from huggingface_hub import PyTorchModelHubMixin, constants

from synthface.io_utils import DEFAULT_FILE_MODE
from synthface.limits import check_config


class SelfDescribingModel(PyTorchModelHubMixin):
    """Mixin for synthface's torch models (generator, discriminator, detector).

    `config_limits` (from `synthface.limits`) bounds every number of the config, or every item of
    a list, before the model is built: a model folder's config.json decides how much memory and
    time building it takes, and a hostile or damaged one (`mapping_layers: 1e7`) must be refused
    in one line, not fill the machine. Loading errors of any kind surface as one-line ValueErrors.
    """

    config_limits: ClassVar[dict[str, tuple[float, float]]] = {}
    # The kind of model (`synthface.pretrained.KINDS`) whose bundled folder `from_pretrained("bundled")` loads.
    model_kind: ClassVar[str | None] = None

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *args: Any, **kwargs: Any):
        if str(pretrained_model_name_or_path) == "bundled" and cls.model_kind is not None:
            from synthface.pretrained import resolve_model_folder

            pretrained_model_name_or_path = resolve_model_folder("bundled", cls.model_kind)
        folder = Path(pretrained_model_name_or_path)
        config_file = folder / constants.CONFIG_NAME
        if folder.is_dir() and config_file.is_file():
            try:
                config = json.loads(config_file.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"config.json is not valid JSON ({exc})") from None
            check_config(config, cls.config_limits, cls.__name__)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        weights = Path(save_directory) / constants.SAFETENSORS_SINGLE_FILE
        if weights.is_file():
            os.chmod(weights, DEFAULT_FILE_MODE)
        if self.model_kind is not None:  # the terms the card's license_link points at
            from synthface.hub.cards import LICENSE_FILE, license_text, training_data_of

            text = license_text(self.model_kind, training_data_of(self.model_kind))
            (Path(save_directory) / LICENSE_FILE).write_text(text, encoding="utf-8")

    def generate_model_card(self, *args: Any, **kwargs: Any):
        """synthface's card for this kind of model (licence, misuse, usage), not the mixin's placeholder."""
        if self.model_kind is None:
            return super().generate_model_card(*args, **kwargs)
        from huggingface_hub import ModelCard

        from synthface.hub.cards import render_model_card, training_data_of

        return ModelCard(render_model_card(self.model_kind, dict(self._hub_mixin_config or {}), {},
                                           training_data=training_data_of(self.model_kind)))

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, cache_dir, force_download, local_files_only,
                         token, map_location: str = "cpu", strict: bool = True, **model_kwargs):
        check_config(model_kwargs, cls.config_limits, cls.__name__)
        if os.path.isdir(model_id):
            model = cls(**model_kwargs)
            weights = os.path.join(model_id, constants.SAFETENSORS_SINGLE_FILE)
            try:
                return cls._load_as_safetensor(model, weights, map_location, strict)
            except (RuntimeError, ValueError, OSError):
                raise
            except Exception as exc:  # noqa: BLE001 - safetensors' own error type for a damaged file
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ValueError(f"model.safetensors is unreadable ({first})") from None
        return super()._from_pretrained(
            model_id=model_id, revision=revision, cache_dir=cache_dir, force_download=force_download,
            local_files_only=local_files_only, token=token, map_location=map_location, strict=strict,
            **model_kwargs,
        )
