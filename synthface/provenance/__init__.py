"""Provenance for synthetic images: C2PA signing, an invisible watermark, and a verifier.

Typical use by a dataset writer::

    identity = load_signing_identity()                 # or init_keys() on a fresh machine
    payload = Payload(image_id_from(persona_id), identity.key_id)
    signed = mark_and_sign(pixels, identity, generation_assertion(...), payload)
    signed.write("faces/0001.png", sidecar=True)

and by anyone checking an image::

    report = verify_image("0001.png", trust_anchors_pem(), ManifestStore("faces"))
"""

from synthface.provenance.keys import (
    KeyPaths,
    SigningIdentity,
    default_key_dir,
    init_keys,
    load_signing_identity,
    trust_anchors_pem,
)
from synthface.provenance.manifest import build_manifest, generation_assertion
from synthface.provenance.payload import Payload, image_id_from, key_id_from
from synthface.provenance.signing import SignedImage, mark_and_sign, sidecar_path, sign_image
from synthface.provenance.store import ManifestStore
from synthface.provenance.verify import VerificationReport, verify_image
from synthface.provenance.watermark import ALGORITHM, WatermarkReading, decode_watermark, embed_watermark

__all__ = [
    "ALGORITHM",
    "KeyPaths",
    "ManifestStore",
    "Payload",
    "SignedImage",
    "SigningIdentity",
    "VerificationReport",
    "WatermarkReading",
    "build_manifest",
    "decode_watermark",
    "default_key_dir",
    "embed_watermark",
    "generation_assertion",
    "image_id_from",
    "init_keys",
    "key_id_from",
    "load_signing_identity",
    "mark_and_sign",
    "sidecar_path",
    "sign_image",
    "trust_anchors_pem",
    "verify_image",
]
