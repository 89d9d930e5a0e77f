"""The image data pipeline: sources -> decoded, cropped, resized uint8 tensors (cached).

Used by the GAN trainer, the FID reference statistics and the detector::

    from synthface.data import prepare_images
    prep = prepare_images("../shared/data/faces", resolution=64)
    prep.images  # torch.uint8 [N, 3, 64, 64]
"""
from synthface.lazy import lazy_exports

_EXPORTS = {
    "cache_root": "synthface.data.cache",
    "prepared_cache_dir": "synthface.data.cache",
    "MAX_IMAGE_PIXELS": "synthface.data.decode",
    "ImageReadError": "synthface.data.decode",
    "load_image": "synthface.data.decode",
    "CROP_PRESETS": "synthface.data.geometry",
    "FIT_MODES": "synthface.data.geometry",
    "crop_and_resize": "synthface.data.geometry",
    "preset_box": "synthface.data.geometry",
    "resolve_preset": "synthface.data.geometry",
    "PreparedImages": "synthface.data.prepare",
    "prepare_images": "synthface.data.prepare",
    "IMAGE_EXTENSIONS": "synthface.data.sources",
    "list_image_files": "synthface.data.sources",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
