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

import os
from pathlib import Path

from huggingface_hub import PyTorchModelHubMixin, constants

from synthface.io_utils import DEFAULT_FILE_MODE


class SelfDescribingModel(PyTorchModelHubMixin):
    """Mixin for synthface's torch models (generator, discriminator, detector)."""

    def _save_pretrained(self, save_directory: Path) -> None:
        super()._save_pretrained(save_directory)
        weights = Path(save_directory) / constants.SAFETENSORS_SINGLE_FILE
        if weights.is_file():
            os.chmod(weights, DEFAULT_FILE_MODE)

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, cache_dir, force_download, local_files_only,
                         token, map_location: str = "cpu", strict: bool = True, **model_kwargs):
        if os.path.isdir(model_id):
            model = cls(**model_kwargs)
            weights = os.path.join(model_id, constants.SAFETENSORS_SINGLE_FILE)
            return cls._load_as_safetensor(model, weights, map_location, strict)
        return super()._from_pretrained(
            model_id=model_id, revision=revision, cache_dir=cache_dir, force_download=force_download,
            local_files_only=local_files_only, token=token, map_location=map_location, strict=strict,
            **model_kwargs,
        )
