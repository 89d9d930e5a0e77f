"""Provenance for synthetic images: C2PA signing, an invisible watermark, and a verifier.

Typical use by a dataset writer::

    identity = load_signing_identity()                 # or init_keys() on a fresh machine
    payload = Payload(image_id_from(persona_id), identity.key_id)
    signed = mark_and_sign(pixels, identity, generation_assertion(...), payload)
    signed.write("faces/0001.png", sidecar=True)

and by anyone checking an image::

    report = verify_image("0001.png", trust_anchors_pem(), ManifestStore("faces"))
"""
from synthface.lazy import lazy_exports

_EXPORTS = {
    "KeyPaths": "synthface.provenance.keys",
    "SigningIdentity": "synthface.provenance.keys",
    "default_key_dir": "synthface.provenance.keys",
    "init_keys": "synthface.provenance.keys",
    "load_signing_identity": "synthface.provenance.keys",
    "trust_anchors_pem": "synthface.provenance.keys",
    "build_manifest": "synthface.provenance.manifest",
    "generation_assertion": "synthface.provenance.manifest",
    "Payload": "synthface.provenance.payload",
    "image_id_from": "synthface.provenance.payload",
    "key_id_from": "synthface.provenance.payload",
    "SignedImage": "synthface.provenance.signing",
    "mark_and_sign": "synthface.provenance.signing",
    "mark_and_sign_many": "synthface.provenance.signing",
    "sidecar_path": "synthface.provenance.signing",
    "sign_image": "synthface.provenance.signing",
    "ManifestStore": "synthface.provenance.store",
    "VerificationReport": "synthface.provenance.verify",
    "verify_image": "synthface.provenance.verify",
    "ALGORITHM": "synthface.provenance.watermark",
    "WatermarkReading": "synthface.provenance.watermark",
    "decode_watermark": "synthface.provenance.watermark",
    "embed_watermark": "synthface.provenance.watermark",
    "embed_watermarks": "synthface.provenance.watermark",
}

__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
