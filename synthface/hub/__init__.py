"""Publishing to and loading from the Hugging Face Hub (or any server speaking its protocol).

Everything goes through huggingface_hub, so ``HF_ENDPOINT``, ``HF_TOKEN`` and a stored
``hf auth login`` work exactly as they do for the rest of the ecosystem.
"""

from synthface.hub.cards import render_model_card
from synthface.hub.publish import detect_repo_type, publish_folder, resolve_token
from synthface.hub.resolve import resolve_model

__all__ = ["detect_repo_type", "publish_folder", "render_model_card", "resolve_model", "resolve_token"]
