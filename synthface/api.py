"""synthface from Python, in a few lines; the library's composition point, as `cli.py` is the shell's.

    import synthface
    faces = synthface.generate(4)                    # PIL images: watermarked and C2PA-signed
    synthface.personas(100, "personas/")              # a signed persona dataset in the Hub's layout
    print(synthface.detect(["photo.jpg"])[0].verdict)

Each call works from a plain script, with no `if __name__ == "__main__":` guard: `personas` signs
in this process unless given `workers` (a process pool re-imports the main script, so scripts that
ask for workers need the guard, as every Python process pool does). Every `model` takes a folder, a
training run, a Hub id or "bundled". This module, like the CLI, is where `synthface` reaches into the
`detectors` package; nothing else in `synthface` does.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SIGNED_PNG = "signed_png"  # the key of `generate`'s images' `info` that holds the exact signed bytes


def load_generator(spec: str | Path | None = "bundled") -> Any:
    """A `Generator` (torch module, eval mode) from a folder, run, Hub id or "bundled"."""
    from synthface.generator.sampling import load_generator as load

    return load(spec)


def load_detector(spec: str | Path | None = "bundled") -> Any:
    """The GAN-face detector (`SynthDetector`, torch) from a folder, run, Hub id or "bundled"."""
    from detectors.model import load_detector as load

    return load(spec or "bundled")


def generate(n: int = 1, *, model: str | Path | None = "bundled", psi: float = 0.7, seed: int = 0) -> list:
    """`n` faces (seeds `seed`..) as PIL images, each watermarked and C2PA-signed as AI-generated.

    They are the variant-0 images of the personas with those seeds. `image.info["signed_png"]` holds the
    signed file's bytes: write those to keep the signature (`image.save` re-encodes the pixels, which
    keeps the watermark but not the manifest).
    """
    import torch
    from PIL import Image

    from synthface.errors import SynthfaceError
    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator as load
    from synthface.personas.latents import ImageSpec, image_ws, synthesise
    from synthface.personas.persona import PersonaSpec, checkpoint_sha256, image_id, persona_id
    from synthface.pretrained import resolve_model_folder
    from synthface.provenance import Payload, generation_assertion, image_id_from, load_signing_identity, mark_and_sign

    if n < 1:
        raise SynthfaceError(f"generate needs n >= 1, got {n}")
    folder = resolve_model_folder(model, "generator")
    G = load(folder)
    sha = checkpoint_sha256(folder)
    identity = load_signing_identity(None, None, create_if_missing=True)
    specs = [ImageSpec(PersonaSpec(s), 0) for s in range(seed, seed + n)]
    with torch.no_grad():
        pixels = to_uint8(synthesise(G, image_ws(G, specs, psi), specs))
    images = []
    for spec, face in zip(specs, pixels, strict=True):
        pid = persona_id(sha, spec.persona)
        iid = image_id(pid, 0)
        assertion = generation_assertion(generator_id=_generator_id(model, folder), checkpoint_sha256=sha,
                                         seed=spec.persona.seed, psi=psi, persona_id=pid, image_id=iid)
        signed = mark_and_sign(face if face.shape[-1] != 1 else face[..., 0], identity, assertion,
                               Payload(image_id_from(iid), identity.key_id), title=f"{iid}.png")
        image = Image.open(io.BytesIO(signed.data))
        image.load()
        image.info[SIGNED_PNG] = signed.data
        images.append(image)
    return images


def personas(count: int, out: str | Path, *, model: str | Path | None = "bundled", workers: int = 0,
             **options: Any) -> Any:
    """Write a persona dataset of `count` personas to `out`; returns the `GenerateReport`.

    `options` are the other fields of `synthface.personas.GenerateOptions` (psi, variants, balance,
    filter, guard, ...), as `synthface generate-personas` takes them.
    """
    from synthface.personas.pipeline import GenerateOptions, generate_personas

    spec = None if model in (None, "bundled") else str(model)
    return generate_personas(GenerateOptions(out=Path(out), count=count, model=spec, workers=workers,
                                             **{"progress": False, **options}))


def detect(inputs: str | Path | Any | Iterable[str | Path | Any], *, model: str | None = None) -> list:
    """One `Detection` per image: paths, folders, globs and dataset shards as `synthface detect` takes
    them, or images in memory (PIL images, or bytes of a PNG or JPEG). `.verdict`, `.synthetic`
    (True, False or None for uncertain), `.c2pa`, `.watermark`, `.classifier` as in `--json`."""
    from detectors.detect import DetectPipeline
    from synthface.provenance.inputs import expand_inputs

    items: Sequence[Any] = [inputs] if isinstance(inputs, (str, Path, bytes)) or hasattr(inputs, "getpixel") \
        else list(inputs)
    pipeline = DetectPipeline(model=None if model in (None, "bundled") else model)
    results = []
    for index, item in enumerate(items):
        if isinstance(item, (str, Path)):
            results.extend(pipeline.detect(entry) for entry in expand_inputs([str(item)]))
        elif isinstance(item, bytes):
            results.append(pipeline.detect_bytes(item, f"<bytes {index}>"))
        else:
            results.append(pipeline.detect_bytes(_image_bytes(item), f"<image {index}>"))
    return results


def _generator_id(model: str | Path | None, folder: Path) -> str:
    """What the manifest names as the generator: the bundled one by its folder's name, as personas do."""
    return folder.name if model in (None, "bundled") else str(model)


def _image_bytes(image: Any) -> bytes:
    """A PIL image as the bytes `detect` reads: its signed file when `generate` made it, else a PNG."""
    if SIGNED_PNG in getattr(image, "info", {}):
        return image.info[SIGNED_PNG]
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()
