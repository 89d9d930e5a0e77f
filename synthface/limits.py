"""Every limit synthface puts on what it reads, in one place.

Images and model folders come from users, downloads and the Hub. Each can ask for far more
memory or time than any real use needs (a 30000 px PNG header, `mapping_layers: 1e7` in a
config.json), so each is bounded before anything is allocated, and the refusal says which
limit was hit and what to change.
"""

from __future__ import annotations

from typing import Any

# Pillow's own default (about 9459 x 9459 pixels). A larger image is refused: decoding it
# would cost gigabytes of memory, and no face photo is that big.
MAX_IMAGE_PIXELS = 89_478_485
# A JPEG above this many pixels is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling,
# Pillow's draft mode): an 8000x8000 camera JPEG then costs 4000x4000 px of memory and time, and
# nothing synthface does with a photo (face finding, a 64 px face view, a watermark) needs more.
MAX_DECODED_PIXELS = 16_000_000

# A model folder's config.json: (lowest, highest) of every number, or of every item of a list.
MAX_LIST_ITEMS = 64
GENERATOR_CONFIG = {
    "resolution": (4, 1024), "img_channels": (1, 3), "z_dim": (1, 2048), "w_dim": (1, 2048),
    "mapping_layers": (1, 32), "mapping_lr_multiplier": (1e-6, 100), "w_avg_beta": (0, 1),
    "channel_base": (1, 1 << 16), "channel_max": (1, 2048),
}
DISCRIMINATOR_CONFIG = {
    "resolution": (4, 1024), "img_channels": (1, 3), "channel_base": (1, 1 << 16), "channel_max": (1, 2048),
    "mbstd_group_size": (1, 64),
}
DETECTOR_CONFIG = {"widths": (1, 1024), "strides": (1, 2), "working_size": (16, 512)}
ATTRIBUTE_CONFIG = {"widths": (1, 1024)}


def check_config(config: Any, limits: dict[str, tuple[float, float]], kind: str) -> None:
    """Raise ValueError naming the first value of `config` (a parsed config.json) outside `limits`."""
    if not isinstance(config, dict):
        raise ValueError(f"config.json holds a JSON {type(config).__name__}, not an object of settings")
    for name, (low, high) in limits.items():
        value = config.get(name)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        if not 1 <= len(items) <= MAX_LIST_ITEMS:
            raise ValueError(f"config.json: {name} has {len(items)} items (1 to {MAX_LIST_ITEMS} allowed)")
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not low <= item <= high:
                raise ValueError(f"config.json: {name} = {value!r} is outside {low:g} to {high:g}; this is not "
                                 f"a {kind} this version of synthface can build")
