"""The training loop that synthface's image classifiers share (the GAN detector, the attribute model).

Each step takes a batch of uint8 views [N, H, W, 3] with 0/1 labels from `batch_at(step)` (a
function of the step alone, so a resumed run sees the batches it would have seen), sets the
learning rate for that step, and takes one AdamW step on the binary cross-entropy of the model's
logits. Every `checkpoint_every` steps, and at the end, the model, the optimiser and the step are
saved as safetensors (atomically), keeping the newest `keep_checkpoints`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from synthface.errors import SynthfaceError


def restore_classifier(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                       restored: tuple[Path, dict] | None, out: Path) -> int:
    """Load a checkpoint's model and optimiser state (from `load_newest_state`); the step to go on from."""
    if restored is None:
        return 0
    newest, state = restored
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError):
        raise SynthfaceError(f"checkpoint {newest} does not fit this model; resume with the options the run was "
                             f"started with (see {out / 'training_config.json'})") from None
    return int(state["step"])


def train_classifier_steps(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    out: Path,
    *,
    step: int,
    steps: int,
    batch_at: Callable[[int], tuple[np.ndarray, np.ndarray]],
    learning_rate: Callable[[int], float],
    checkpoint_every: int,
    keep_checkpoints: int,
    desc: str,
    progress: bool = True,
) -> int:
    """Train from `step` to `steps` with a progress bar; returns the step reached."""
    from tqdm.auto import tqdm

    from synthface.checkpoints import checkpoint_path, prune_checkpoints, save_state

    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    with tqdm(total=steps, initial=step, unit="step", desc=desc, disable=not progress, dynamic_ncols=True) as bar:
        while step < steps:
            views, labels = batch_at(step)
            images = torch.from_numpy(views).permute(0, 3, 1, 2).float() / 127.5 - 1.0
            target = torch.from_numpy(labels)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step)
            logits = model(images)
            loss = loss_fn(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            accuracy = float(((logits > 0).float() == target).float().mean())
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{accuracy:.2f}", refresh=False)
            bar.update(1)
            if step % checkpoint_every == 0 or step == steps:
                save_state({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                           checkpoint_path(out, step))
                prune_checkpoints(out, keep_checkpoints)
    model.eval()
    return step
