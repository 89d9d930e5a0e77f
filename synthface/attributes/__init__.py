"""Perceived attributes of a face: what a viewer would read from it, never who the person is.

Used to give personas names and pronouns that fit their faces, to describe who is in a persona
dataset, and to measure how cleanly the generator's latent spaces separate an attribute.

- `synthface.attributes.labels`: labels from first names (gender-guesser), and the name lists
- `synthface.attributes.views`: the face view the model scores, and its training views
- `synthface.attributes.model`: `AttributeModel`, `load_attribute_model`, `Perception`
- `synthface.attributes.training`: `train_attribute_model` (`synthface train-attributes`)
"""

from synthface.lazy import lazy_exports

_EXPORTS = {
    "AttributeModel": "synthface.attributes.model",
    "Perception": "synthface.attributes.model",
    "load_attribute_model": "synthface.attributes.model",
    "perceive": "synthface.attributes.model",
    "TrainAttributesConfig": "synthface.attributes.training",
    "train_attribute_model": "synthface.attributes.training",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
