"""The attribute model: perceived gender presentation of a face, with a calibrated probability.

A small CNN scores the face view of `synthface.attributes.views` and gives the logit of
"reads as female". Its temperature is fitted on held-out people so that p means what it says,
and `confident` is the probability beyond which held-out accuracy reaches the target: a face
between 1 - confident and confident is UNCERTAIN, and personas then get a neutral name. Weights,
temperature and threshold are tensors beside config.json (save_pretrained / from_pretrained,
like every synthface model), so loading never unpickles anything.

What it predicts is how a viewer would likely read the face, learned from names of photographed
people; it says nothing of anyone's gender identity, and it must not be used to decide anything
about a real person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from synthface.attributes.labels import FEMALE, MALE, UNCERTAIN
from synthface.errors import SynthfaceError
from synthface.limits import ATTRIBUTE_CONFIG
from synthface.modeling import SelfDescribingModel

__all__ = ["AttributeModel", "Perception", "load_attribute_model", "perceive"]

TASK = "perceived-gender-presentation"


@dataclass(frozen=True)
class Perception:
    """How one face reads: FEMALE, MALE or UNCERTAIN, and p(female) (None when no face was found)."""

    presentation: str
    p_female: float | None

    @property
    def face_found(self) -> bool:
        return self.p_female is not None


class AttributeModel(
    nn.Module,
    SelfDescribingModel,
    library_name="synthface",
    tags=["synthface", "image-classification", "faces", "perceived-attributes"],
    pipeline_tag="image-classification",
):
    """Face-view CNN (stride-2 conv blocks, global mean, linear head); `widths` is the config, and
    `task` names what it predicts (so a card or a loader can tell it from the detector)."""

    config_limits: ClassVar[dict[str, tuple[float, float]]] = ATTRIBUTE_CONFIG
    model_kind: ClassVar[str] = "attributes"

    def __init__(self, widths: list[int] | None = None, task: str = TASK) -> None:
        super().__init__()
        if task != TASK:
            raise ValueError(f"this attribute model predicts {TASK!r}, not {task!r}")
        self.task = task
        self.widths = list(widths or [32, 64, 96, 128])
        layers, channels = [], 3
        for width in self.widths:
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels, 1)
        self.register_buffer("temperature", torch.ones(()))
        self.register_buffer("confident", torch.tensor(0.5))

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        """Uncalibrated logits of "reads as female" for views in [-1, 1], [N, 3, H, W]."""
        return self.head(self.features(views).mean(dim=(2, 3))).squeeze(1)

    @torch.no_grad()
    def p_female(self, views: np.ndarray) -> np.ndarray:
        """Calibrated p(female) for uint8 views [N, H, W, 3]."""
        if len(views) == 0:
            return np.zeros(0)
        batch = torch.from_numpy(np.ascontiguousarray(views)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        was_training = self.training
        self.eval()
        logits = self(batch) / self.temperature
        self.train(was_training)
        return torch.sigmoid(logits).double().numpy()

    def presentation(self, p_female: float) -> str:
        confident = float(self.confident)
        return FEMALE if p_female >= confident else MALE if p_female <= 1.0 - confident else UNCERTAIN


def load_attribute_model(spec: str | Path | None = None) -> AttributeModel:
    """The attribute model of a folder, training run, Hub id or "bundled" (None: the bundled one)."""
    from synthface.pretrained import resolve_model_folder

    path = resolve_model_folder(spec, "attributes")
    try:
        model = AttributeModel.from_pretrained(str(path))
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise SynthfaceError(f"cannot load attribute model {spec or path} ({reason})") from None
    return model.eval()


def perceive(model: AttributeModel, images: Sequence[np.ndarray], portraits: bool = False) -> list[Perception]:
    """How each image's largest face reads; UNCERTAIN with p None where no face is found.

    `portraits`: the images are framed like a generator's faces (the face fills the frame), so the
    face search runs on a smaller copy: 4 ms instead of 14 ms for a 64 px persona.
    """
    from synthface.attributes.views import face_view
    from synthface.faces import DETECTION_SIDE, PORTRAIT_DETECTION_SIDE, find_faces

    side = PORTRAIT_DETECTION_SIDE if portraits else DETECTION_SIDE
    views, found = [], []
    for index, image in enumerate(images):
        faces = find_faces(image, side)
        if faces:
            views.append(face_view(image, faces[0].to_canonical()))
            found.append(index)
    probabilities = dict(zip(found, model.p_female(np.stack(views)) if views else [], strict=True))
    out = []
    for index in range(len(images)):
        p = probabilities.get(index)
        out.append(Perception(UNCERTAIN, None) if p is None else Perception(model.presentation(float(p)), float(p)))
    return out
