"""Linear separability of the generator's latent spaces (Karras et al. 2019, section 4.2), and the
W-space direction it finds, which `synthface sample --edit` moves faces along.

A latent space is disentangled if an attribute of the face is a linear function of the code. So
faces are generated from random z (no truncation), read by the attribute model
(`synthface.attributes`), the less confident half is set aside (as in the paper), and a linear
SVM is fitted to predict the label from z, and again from w. The conditional entropy H(Y|X) of
the attribute model's label Y given the SVM's side X (in nats) says how much of the attribute the
plane misses: 0 means a plane splits the faces exactly. The paper reports exp of the sum over
attributes; for one attribute that is exp(H).

The edit direction is not the SVM's normal. A maximum-margin plane leans on directions in which
the faces' w hardly vary, and moving along its normal barely changes a face (docs/attributes-log.md
has the measurement); the difference between the two classes' mean w moves faces from one
cluster to the other. So `--edit` uses that difference, in units of the faces' spread along it, and
`edit_effect` measures how cleanly it edits: the share of faces the attribute model reads as the
other presentation after a move of 2 spreads, and the mean change of p(female).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthface.errors import SynthfaceError

DIRECTIONS_FILE = "attribute_directions.safetensors"


@dataclass
class Direction:
    """A unit vector in W (towards faces read as female) and the faces' spread along it."""

    attribute: str
    vector: np.ndarray  # [w_dim]
    spread: float

    def save(self, folder: Path) -> Path:
        from safetensors.numpy import load_file, save_file

        from synthface.io_utils import atomic_path

        path = folder / DIRECTIONS_FILE
        tensors = load_file(str(path)) if path.is_file() else {}
        tensors[self.attribute] = self.vector.astype(np.float32)
        tensors[f"{self.attribute}.spread"] = np.array([self.spread], dtype=np.float32)
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp))
        return path

    @classmethod
    def load(cls, folder: Path, attribute: str) -> Direction:
        from safetensors.numpy import load_file

        path = folder / DIRECTIONS_FILE
        tensors = load_file(str(path)) if path.is_file() else {}
        if attribute not in tensors:
            raise SynthfaceError(f"{folder} has no '{attribute}' direction; find it with "
                                 f"`synthface metrics --separability --model {folder}`")
        return cls(attribute, tensors[attribute].astype(np.float64), float(tensors[f"{attribute}.spread"][0]))


@torch.no_grad()
def generate_and_read(G: Any, attribute_model: Any, num: int, seed: int, batch_size: int, psi: float = 1.0,
                      progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """z [N, z_dim], w [N, w_dim] and p(female) [N] (NaN where no face is found) for seeds seed..seed+num-1."""
    from tqdm.auto import tqdm

    from synthface.attributes.model import perceive
    from synthface.generator.images import to_uint8
    from synthface.generator.seeds import z_from_seeds

    zs, ws, ps = [], [], []
    with tqdm(total=num, unit="face", desc="reading faces", disable=not progress, dynamic_ncols=True) as bar:
        for start in range(seed, seed + num, batch_size):
            z = z_from_seeds(range(start, min(start + batch_size, seed + num)), G.z_dim)
            w = G.mapping(z, psi=psi)
            images = to_uint8(G.synthesis(w, noise_mode="const"))
            if images.shape[-1] == 1:
                images = np.repeat(images, 3, axis=-1)
            readings = perceive(attribute_model, list(images), portraits=True)
            zs.append(z.numpy())
            ws.append(w[:, 0].numpy())
            ps.append([np.nan if r.p_female is None else r.p_female for r in readings])
            bar.update(len(z))
    return np.concatenate(zs), np.concatenate(ws), np.concatenate(ps).astype(np.float64)


def conditional_entropy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """H(Y|X) in nats for binary Y (labels) and X (the SVM's side)."""
    entropy = 0.0
    for side in (0, 1):
        mask = predicted == side
        if not mask.any():
            continue
        share = float(np.mean(labels[mask]))
        terms = [q * np.log(q) for q in (share, 1.0 - share) if q > 0]
        entropy -= mask.mean() * sum(terms)
    return float(entropy)


def separability(z: np.ndarray, w: np.ndarray, p_female: np.ndarray) -> tuple[dict[str, Any], Direction]:
    """H(Y|X) in Z and in W for the most confident half of the faces, and the W edit direction (the
    difference of the two classes' mean w over those faces)."""
    from sklearn.svm import LinearSVC

    found = np.flatnonzero(~np.isnan(p_female))
    confidence = np.abs(p_female[found] - 0.5)
    keep = found[np.argsort(-confidence)[: max(2, len(found) // 2)]]
    labels = (p_female[keep] >= 0.5).astype(np.int64)
    if labels.min() == labels.max():
        raise SynthfaceError("every confidently read face has the same label; separability needs both")
    result: dict[str, Any] = {"faces": int(len(p_female)), "faces_found": int(len(found)),
                              "faces_used": int(len(keep)), "female_share_used": float(labels.mean())}
    for space, codes in (("z", z), ("w", w)):
        x = codes[keep]
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-8
        svm = LinearSVC(C=1.0, max_iter=20000).fit((x - mean) / scale, labels)
        predicted = svm.predict((x - mean) / scale)
        entropy = conditional_entropy(labels, predicted)
        result[f"separability_gender_{space}"] = entropy
        result[f"separability_gender_{space}_exp"] = float(np.exp(entropy))
        result[f"svm_accuracy_gender_{space}"] = float(np.mean(predicted == labels))
    difference = w[keep][labels == 1].mean(axis=0) - w[keep][labels == 0].mean(axis=0)
    vector = difference / np.linalg.norm(difference)
    return result, Direction("gender", vector, float(np.std(w[found] @ vector)))


@torch.no_grad()
def edit_effect(G: Any, attribute_model: Any, direction: Direction, num: int, seed: int, amount: float = 2.0,
                psi: float = 0.7, batch_size: int = 32) -> dict[str, Any]:
    """How the attribute model reads faces moved `amount` spreads along the direction (and against it)."""
    from synthface.attributes.model import perceive
    from synthface.generator.images import to_uint8
    from synthface.generator.seeds import z_from_seeds

    step = torch.from_numpy(direction.vector * direction.spread * amount).float()
    before, towards, away = [], [], []
    for start in range(seed, seed + num, batch_size):
        w = G.mapping(z_from_seeds(range(start, min(start + batch_size, seed + num)), G.z_dim), psi=psi)
        for moved, out in ((w, before), (w + step, towards), (w - step, away)):
            images = to_uint8(G.synthesis(moved, noise_mode="const"))
            out.extend(r.p_female for r in perceive(attribute_model, list(images), portraits=True))
    rows = [(b, t, a) for b, t, a in zip(before, towards, away, strict=True) if None not in (b, t, a)]
    faces_kept = len(rows) / max(1, len(before))
    if not rows:
        raise SynthfaceError("no face was found in the edited images")
    b, t, a = (np.array(column) for column in zip(*rows, strict=True))
    return {
        "edit_amount_spreads": amount,
        "edit_faces": len(rows),
        "edit_faces_still_found": faces_kept,
        "edit_male_read_to_female": float(np.mean(t[b < 0.5] >= 0.5)) if np.any(b < 0.5) else None,
        "edit_female_read_to_male": float(np.mean(a[b >= 0.5] < 0.5)) if np.any(b >= 0.5) else None,
        "edit_mean_p_female_change_towards": float(np.mean(t - b)),
        "edit_mean_p_female_change_away": float(np.mean(a - b)),
    }
