"""The image data pipeline: sources -> decoded, cropped, resized uint8 tensors (cached).

Used by the GAN trainer, the FID reference statistics and the detector::

    from synthface.data import prepare_images
    prep = prepare_images("../shared/data/faces", resolution=64)
    prep.images  # torch.uint8 [N, 3, 64, 64]
"""

from synthface.data.cache import cache_root, prepared_cache_dir
from synthface.data.decode import MAX_IMAGE_PIXELS, ImageReadError, load_image
from synthface.data.geometry import CROP_PRESETS, FIT_MODES, crop_and_resize, preset_box, resolve_preset
from synthface.data.prepare import PreparedImages, prepare_images
from synthface.data.sources import IMAGE_EXTENSIONS, list_image_files

__all__ = [
    "CROP_PRESETS",
    "FIT_MODES",
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "ImageReadError",
    "PreparedImages",
    "cache_root",
    "crop_and_resize",
    "list_image_files",
    "load_image",
    "prepare_images",
    "prepared_cache_dir",
    "preset_box",
    "resolve_preset",
]
