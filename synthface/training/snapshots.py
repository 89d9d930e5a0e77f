"""What a run leaves behind for people: sample grids with fixed seeds and a loss curve."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from synthface.generator import Generator
from synthface.generator.images import make_grid, to_uint8
from synthface.generator.seeds import z_from_seeds
from synthface.io_utils import atomic_path


@torch.no_grad()
def write_sample_grid(G: Generator, path: Path, num_seeds: int, psi: float = 1.0, columns: int = 8) -> None:
    """Render seeds 0..num_seeds-1 with const noise (comparable across snapshots)."""
    device = next(G.parameters()).device
    z = z_from_seeds(range(num_seeds), G.z_dim).to(device)
    images = to_uint8(G(z, psi=psi, noise_mode="const"))
    with atomic_path(path) as tmp:
        make_grid(images, columns=min(columns, num_seeds)).save(tmp, format="PNG")


def write_loss_curve(metrics_path: Path, out_path: Path) -> None:
    """Plot G/D losses, D's real/fake scores and the augmentation probability over kimg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    all_rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    rows = [r for r in all_rows if "loss_g" in r]
    fid_rows = [r for r in all_rows if r.get("fid") is not None]
    if not rows:
        return
    kimg = [r["kimg"] for r in rows]
    fig, axes = plt.subplots(1, 4 if fid_rows else 3, figsize=(17 if fid_rows else 13, 3.6))
    axes[0].plot(kimg, [r["loss_g"] for r in rows], label="G loss")
    axes[0].plot(kimg, [r["loss_d"] for r in rows], label="D loss")
    axes[0].set_title("losses")
    axes[1].plot(kimg, [r["d_real"] for r in rows], label="D(real)")
    axes[1].plot(kimg, [r["d_fake"] for r in rows], label="D(fake)")
    axes[1].set_title("D logits")
    axes[2].plot(kimg, [r["aug_p"] for r in rows], label="augment p")
    axes[2].plot(kimg, [r["ada_rt"] for r in rows], label="r_t")
    axes[2].set_title("adaptive augmentation")
    if fid_rows:
        axes[3].plot([r["kimg"] for r in fid_rows], [r["fid"] for r in fid_rows], "o-", label="FID")
        axes[3].set_title(f"FID ({fid_rows[-1].get('fid_samples', '?')} samples)")
    for ax in axes:
        ax.set_xlabel("kimg")
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
