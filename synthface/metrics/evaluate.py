"""FID and KID of a generator against reference statistics of real data.

Generated images go through ``to_uint8`` (the conversion used when saving PNGs)
before Inception, so the metric scores exactly the pixels users get, quantisation
included. Latents come from ``z_from_seeds(seed .. seed + N - 1)``, one CPU generator
per seed, so the same seed range gives the same images (and the same FID) whatever
the batch size or device. Images are scored as they are generated and never all held
in memory.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from synthface.errors import SynthfaceError
from synthface.metrics.fid import GaussianStats, fid_from_features, stats_distance
from synthface.metrics.inception import FEATURE_DIM, InceptionFeatures, resolve_device
from synthface.metrics.kid import kernel_inception_distance
from synthface.metrics.reference import PreparedLike, ReferenceStats, reference_stats


@torch.no_grad()
def generator_features(
    G: torch.nn.Module,
    num_samples: int,
    psi: float = 1.0,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    seed: int = 0,
    noise_mode: str = "const",
    extractor: InceptionFeatures | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Inception features [num_samples, 2048] of images from seeds seed .. seed + num_samples - 1."""
    from synthface.generator.images import to_uint8
    from synthface.generator.seeds import z_from_seeds

    if num_samples < 1:
        raise SynthfaceError(f"number of samples must be at least 1, got {num_samples}")
    if batch_size < 1:
        raise SynthfaceError(f"batch size must be at least 1, got {batch_size}")
    target = resolve_device(device)
    extractor = extractor or InceptionFeatures(device=target, batch_size=batch_size)
    was_training = G.training
    G.eval()
    try:
        parameter = next(G.parameters(), None)
        g_device = parameter.device if parameter is not None else target
        features = np.empty((num_samples, FEATURE_DIM), dtype=np.float32)
        with tqdm(
            total=num_samples, desc="generated features", unit="img", disable=not progress, dynamic_ncols=True
        ) as bar:
            for start in range(0, num_samples, batch_size):
                count = min(batch_size, num_samples - start)
                z = z_from_seeds(range(seed + start, seed + start + count), G.z_dim).to(g_device)
                images = G(z, psi=psi, noise_mode=noise_mode)
                if not torch.isfinite(images).all():
                    raise SynthfaceError(
                        f"the generator produced NaN/inf pixels (seeds {seed + start}.."
                        f"{seed + start + count - 1}); the checkpoint is broken"
                    )
                pixels = torch.from_numpy(to_uint8(images)).permute(0, 3, 1, 2)
                features[start : start + count] = extractor.extract_batch(pixels).cpu().numpy()
                bar.update(count)
    finally:
        G.train(was_training)
    return features


def compute_generator_metrics(
    G: torch.nn.Module,
    reference: ReferenceStats | PreparedLike,
    num_samples: int = 10000,
    psi: float = 1.0,
    batch_size: int = 32,
    device: str | torch.device = "auto",
    seed: int = 0,
    noise_mode: str = "const",
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    progress: bool = True,
) -> dict[str, Any]:
    """FID and KID of `G`'s samples against `reference` (statistics, or prepared data to compute them from).

    Returns ``dict(fid, kid_mean, kid_std, num_samples, num_reference, psi, seed, seconds)``.
    G should already be on `device` (or it is used where its parameters are).
    """
    began = time.perf_counter()
    if num_samples < 2:
        raise SynthfaceError(f"FID needs at least 2 generated samples, got {num_samples}")
    target = resolve_device(device)
    if not isinstance(reference, ReferenceStats):
        reference = reference_stats(reference, device=target, batch_size=batch_size, progress=progress)
    if reference.channels != G.img_channels:
        # Not an error (Inception sees 3 channels either way) but almost always a mistake.
        tqdm.write(
            f"note: the generator makes {G.img_channels}-channel images, "
            f"the reference has {reference.channels} channels"
        )
    extractor = InceptionFeatures(device=target, batch_size=batch_size)
    features = generator_features(
        G, num_samples, psi=psi, batch_size=batch_size, device=target, seed=seed,
        noise_mode=noise_mode, extractor=extractor, progress=progress,
    )
    if max(num_samples, reference.count) < FEATURE_DIM:
        # Both covariances are singular: the exact low-rank route is faster and more accurate.
        fid = fid_from_features(features, reference.features)
    else:
        fid = stats_distance(GaussianStats.from_features(features), reference.gaussian)
    kid = kernel_inception_distance(
        features, reference.features, num_subsets=kid_subsets, max_subset_size=kid_subset_size, seed=seed
    )
    return {
        "fid": fid,
        "kid_mean": kid.mean,
        "kid_std": kid.std,
        "kid_subset_size": kid.subset_size,
        "num_samples": num_samples,
        "num_reference": reference.count,
        "psi": psi,
        "seed": seed,
        "seconds": round(time.perf_counter() - began, 2),
    }
