"""Keys, C2PA signing and verification, end to end with c2pa's own reader.

Every test uses a temporary SYNTHFACE_HOME, never the user's real config dir.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image
from typer.testing import CliRunner

from synthface.errors import SynthfaceError
from synthface.provenance import (
    ManifestStore,
    Payload,
    generation_assertion,
    image_id_from,
    init_keys,
    load_signing_identity,
    mark_and_sign,
    sign_image,
    trust_anchors_pem,
    verify_image,
)
from synthface.provenance.commands import register

# Every test runs with a temporary SYNTHFACE_HOME (fixtures in conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture(scope="module")
def face_pixels() -> np.ndarray:
    """A smooth, face-like 64x64 test image (no photo needed): gradients plus blobs."""
    yy, xx = np.mgrid[0:64, 0:64] / 63.0
    blob = np.exp(-(((xx - 0.5) / 0.25) ** 2 + ((yy - 0.45) / 0.3) ** 2))
    rgb = np.stack([120 + 100 * blob, 90 + 80 * blob + 20 * yy, 70 + 60 * blob + 30 * xx], axis=-1)
    noise = np.random.default_rng(0).normal(0, 4, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def _assertion(seed: int = 7) -> dict:
    return generation_assertion(
        generator_id="synthface/test-gen",
        checkpoint_sha256="ab" * 32,
        seed=seed,
        psi=0.7,
        persona_id=f"persona-{seed}",
        style_mix={"parents": [seed, seed + 1], "crossover": 4},
    )


@pytest.fixture(scope="module")
def signed_png(key_dir: Path, face_pixels: np.ndarray):
    identity = load_signing_identity(key_dir=key_dir)
    payload = Payload(image_id_from("persona-7"), identity.key_id)
    return mark_and_sign(face_pixels, identity, _assertion(), payload)


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def _run(args: list[str]):
    result = CliRunner().invoke(_cli(), args)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
        result.exception
    )
    return result


def test_keys_init_writes_private_keys_0600_and_refuses_to_overwrite(tmp_path: Path) -> None:
    result = _run(["keys", "init", "--dir", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    for name in ("ca.key", "signer.key"):
        assert stat.S_IMODE((tmp_path / "k" / name).stat().st_mode) == 0o600
    chain = x509.load_pem_x509_certificates((tmp_path / "k" / "signer.pem").read_bytes())
    assert len(chain) == 2
    leaf = chain[0]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    again = _run(["keys", "init", "--dir", str(tmp_path / "k")])
    assert again.exit_code == 2
    assert "already exist" in again.output and "BEGIN" not in again.output


def test_private_keys_are_never_readable_by_others_even_for_a_moment(tmp_path: Path, monkeypatch) -> None:
    """Every mode a key file has, from creation to rename, under the loosest umask."""
    import os

    from synthface import io_utils
    from synthface.provenance import init_keys

    seen: dict[str, list[int]] = {}  # key file -> every mode it was given or renamed with
    real_chmod, real_replace = os.chmod, os.replace

    def key_name(path) -> str | None:
        name = Path(path).name
        return next((key for key in ("ca.key", "signer.key") if key in name), None)

    def watch_chmod(path, mode, *args, **kwargs):
        if key_name(path):
            seen.setdefault(key_name(path), []).append(mode)
        return real_chmod(path, mode, *args, **kwargs)

    def watch_replace(source, target, *args, **kwargs):
        if key_name(target):
            seen.setdefault(key_name(target), []).append(stat.S_IMODE(os.stat(source).st_mode))
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(io_utils.os, "chmod", watch_chmod)
    monkeypatch.setattr(io_utils.os, "replace", watch_replace)
    old_umask = os.umask(0)
    try:
        init_keys(tmp_path / "k")
    finally:
        os.umask(old_umask)
    for name in ("ca.key", "signer.key"):
        assert seen[name] and all(mode == 0o600 for mode in seen[name]), (name, seen)
        assert stat.S_IMODE((tmp_path / "k" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o700


def test_keys_default_to_synthface_home(isolated_home: Path) -> None:
    paths = init_keys()
    assert paths.directory == isolated_home / "keys"
    assert load_signing_identity().source == str(isolated_home / "keys")


def test_missing_keys_say_run_keys_init(tmp_path: Path) -> None:
    with pytest.raises(SynthfaceError, match="synthface keys init"):
        load_signing_identity(key_dir=tmp_path / "nothing")


def test_first_run_creates_one_identity_and_keeps_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """generate-personas on a fresh machine must sign with no set-up step, and not re-key later."""
    directory = tmp_path / "keys"
    first = load_signing_identity(key_dir=directory, create_if_missing=True)
    assert "created a local signing key" in capsys.readouterr().err
    second = load_signing_identity(key_dir=directory, create_if_missing=True)
    assert second.key_id == first.key_id and capsys.readouterr().err == ""
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_env_vars_select_the_signing_identity(key_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTHFACE_SIGNING_CERT", str(key_dir / "signer.pem"))
    monkeypatch.setenv("SYNTHFACE_SIGNING_KEY", str(key_dir / "signer.key"))
    assert load_signing_identity().source == "environment"


def _cert_without_eku(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no eku")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "c.pem", tmp_path / "k.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_certificate_without_eku_is_refused(tmp_path: Path) -> None:
    cert_path, key_path = _cert_without_eku(tmp_path)
    with pytest.raises(SynthfaceError, match="extended key usage") as info:
        load_signing_identity(cert_path, key_path)
    assert "\n" not in str(info.value) and "PRIVATE" not in str(info.value)


def test_wrong_key_for_certificate_is_refused(key_dir: Path, tmp_path: Path) -> None:
    _, other_key = _cert_without_eku(tmp_path)
    with pytest.raises(SynthfaceError, match="does not belong"):
        load_signing_identity(key_dir / "signer.pem", other_key)


def _organisation_chain(tmp_path: Path, curve: ec.EllipticCurve) -> tuple[Path, Path, str]:
    """An organisation's own EC CA and signer (chain file, key file, CA PEM), as a PKI would issue."""
    from synthface.provenance.keys import DOCUMENT_SIGNING

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, leaf_key = ec.generate_private_key(curve), ec.generate_private_key(curve)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "org root"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "org signer"),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org")])

    def issue(name, key, ca: bool, usage: x509.KeyUsage, extra=()):
        builder = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
                   .add_extension(usage, critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        for extension in extra:
            builder = builder.add_extension(extension, critical=False)
        return builder.sign(ca_key, hashes.SHA256())

    ca = issue(ca_name, ca_key, True, x509.KeyUsage(True, False, False, False, False, True, True, False, False))
    leaf = issue(leaf_name, leaf_key, False, x509.KeyUsage(True, False, False, False, False, False, False, False,
                                                            False),
                 [x509.ExtendedKeyUsage([DOCUMENT_SIGNING]),
                  x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())])
    pem = serialization.Encoding.PEM
    chain, key = tmp_path / "org-chain.pem", tmp_path / "org.key"
    chain.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return chain, key, ca.public_bytes(pem).decode()


@pytest.mark.parametrize("curve, algorithm", [(ec.SECP256R1(), "es256"), (ec.SECP384R1(), "es384")])
def test_an_organisations_ec_keys_sign_with_their_algorithm(tmp_path: Path, face_pixels, curve, algorithm) -> None:
    chain, key, ca_pem = _organisation_chain(tmp_path, curve)
    identity = load_signing_identity(chain, key)
    assert identity.algorithm == algorithm
    signed = sign_image(_png_bytes(face_pixels), identity, _assertion())
    report = verify_image(signed.data, ca_pem)
    assert report.verdict == "verified" and report.signer_trusted, report.to_json()


def test_local_keys_are_ed25519_and_other_key_types_are_refused(key_dir: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from synthface.provenance.keys import signing_algorithm

    assert load_signing_identity(key_dir=key_dir).algorithm == "ed25519"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(rsa_key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(rsa_key, hashes.SHA256()))
    with pytest.raises(SynthfaceError, match="Ed25519, EC P-256"):
        signing_algorithm(cert, "rsa.pem")


def _png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_sign_verify_trusted_with_our_ca_untrusted_without(signed_png, key_dir: Path) -> None:
    trusted = verify_image(signed_png.data, trust_anchors_pem(key_dir=key_dir))
    assert trusted.verdict == "verified", trusted.to_json()
    assert trusted.manifest == "embedded" and trusted.signature_valid and trusted.signer_trusted
    assert trusted.data_hash == "match"
    assert trusted.ai_generated is True
    assert trusted.synthface["seed"] == 7 and trusted.synthface["persona_id"] == "persona-7"
    assert trusted.synthface["style_mix"] == {"parents": [{"seed": 7}, {"seed": 8}], "crossover": 4}
    assert trusted.training_mining == "notAllowed"
    assert trusted.watermark_found and trusted.watermark_matches_manifest
    assert trusted.manifest_label == signed_png.manifest_label

    untrusted = verify_image(signed_png.data, "")
    assert untrusted.signature_valid and untrusted.signer_trusted is False
    assert untrusted.verdict == "valid but untrusted signer"
    json.dumps(untrusted.to_json())


def test_signing_keeps_pixels_and_writes_sidecar(signed_png, face_pixels, key_dir: Path, tmp_path) -> None:
    decoded = np.asarray(Image.open(io.BytesIO(signed_png.data)).convert("RGB"))
    unsigned = signed_png.data  # pixels equal the watermarked ones, not re-encoded by signing
    assert decoded.shape == face_pixels.shape
    path = signed_png.write(tmp_path / "face.png", sidecar=True)
    assert (tmp_path / "face.c2pa").read_bytes() == signed_png.manifest_store
    assert path.read_bytes() == unsigned


def test_sign_jpeg_and_training_allowed(key_dir: Path, face_pixels: np.ndarray) -> None:
    identity = load_signing_identity(key_dir=key_dir)
    buffer = io.BytesIO()
    Image.fromarray(face_pixels).save(buffer, "JPEG", quality=92)
    signed = sign_image(buffer.getvalue(), identity, _assertion(3), fmt="jpeg", ai_training="allowed")
    assert np.array_equal(
        np.asarray(Image.open(io.BytesIO(signed.data))), np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    )
    report = verify_image(signed.data, trust_anchors_pem(key_dir=key_dir))
    assert report.verdict == "verified" and report.training_mining == "allowed"


def test_sign_refuses_a_claimed_watermark_that_is_absent(key_dir: Path, face_pixels: np.ndarray) -> None:
    identity = load_signing_identity(key_dir=key_dir)
    buffer = io.BytesIO()
    Image.fromarray(face_pixels).save(buffer, "PNG")
    with pytest.raises(SynthfaceError, match="does not carry watermark"):
        sign_image(buffer.getvalue(), identity, _assertion(), watermark_payload=Payload(1, 2))
    with pytest.raises(SynthfaceError, match="not a PNG or JPEG"):
        sign_image(b"GIF89a" + bytes(100), identity, _assertion())


def test_soft_bindings_of_marks_this_reader_reads_are_understood() -> None:
    """A dataset signed while the mark was version 2 (the luma layer alone, which version 3 keeps)
    still leads from its watermark to its manifest; another algorithm's binding does not."""
    from synthface.provenance.manifest import payload_from_soft_binding, soft_binding_assertion

    binding = soft_binding_assertion(Payload(0xCAFE, 7))
    assert payload_from_soft_binding(binding) == Payload(0xCAFE, 7)
    assert payload_from_soft_binding({**binding, "alg": "org.synthface.watermark.block-qim-cc.2"}) == Payload(0xCAFE, 7)
    assert payload_from_soft_binding({**binding, "alg": "com.example.other"}) is None


def _replace_png_pixels(png: bytes, pixels: np.ndarray) -> bytes:
    """Swap the IDAT data for new pixels, keeping every other chunk (the manifest) in place."""
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
    out, pos, done = bytearray(png[:8]), 8, False
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IDAT":
            if done:
                continue
            data, done = zlib.compress(raw), True
        out += struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return bytes(out)


def test_changed_pixels_give_a_data_hash_mismatch(signed_png, key_dir: Path) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(signed_png.data)).convert("RGB")).copy()
    pixels[30:34, 30:34] = 255 - pixels[30:34, 30:34]
    tampered = _replace_png_pixels(signed_png.data, pixels)
    report = verify_image(tampered, trust_anchors_pem(key_dir=key_dir))
    assert report.manifest == "embedded"
    assert report.data_hash == "mismatch" and report.verdict == "file changed since signing"


def test_reencoding_strips_manifest_but_store_recovers_it(signed_png, key_dir: Path, tmp_path) -> None:
    store_dir = tmp_path / "dataset"
    signed_png.write(store_dir / "0007.png", sidecar=True)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(signed_png.data)).convert("RGB").save(buffer, "JPEG", quality=75)
    stripped = tmp_path / "stripped.jpg"
    stripped.write_bytes(buffer.getvalue())

    alone = verify_image(stripped, trust_anchors_pem(key_dir=key_dir))
    assert alone.manifest == "absent" and alone.watermark_found
    assert alone.watermark_payload == signed_png.payload.hex

    result = _run(["verify", str(stripped), "--store", str(store_dir), "--json", "--key-dir", str(key_dir)])
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["manifest"] == "store" and report["manifest_file"].endswith("0007.c2pa")
    assert report["signature_valid"] and report["signer_trusted"]
    assert report["watermark_matches_manifest"] is True
    assert report["synthface"]["persona_id"] == "persona-7"
    assert len(ManifestStore(store_dir)) == 1


def test_bad_inputs_give_one_line_each_and_the_batch_goes_on(signed_png, key_dir: Path, tmp_path) -> None:
    good = signed_png.write(tmp_path / "good.png")
    (tmp_path / "random.png").write_bytes(np.random.default_rng(1).bytes(500))
    (tmp_path / "truncated.png").write_bytes(signed_png.data[: len(signed_png.data) // 2])
    (tmp_path / "header-only.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(20))
    (tmp_path / "anim.gif").write_bytes(b"GIF89a" + bytes(40))
    names = ["random.png", "truncated.png", "missing.png", "header-only.jpg", "anim.gif"]
    args = ["verify", str(good)] + [str(tmp_path / n) for n in names] + ["--key-dir", str(key_dir)]
    result = _run(args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(names)
    for name in names:
        assert any(name in line for line in errors), name
    assert f"{good}: verified" in result.stdout


def test_untrusted_exit_code_and_trust_flag(signed_png, key_dir: Path, tmp_path) -> None:
    path = signed_png.write(tmp_path / "x.png")
    untrusted = _run(["verify", str(path), "--key-dir", str(tmp_path / "no-keys")])
    assert untrusted.exit_code == 1 and "untrusted" in untrusted.stdout
    trusted = _run(
        ["verify", str(path), "--key-dir", str(tmp_path / "no-keys"), "--trust", str(key_dir / "ca.pem")]
    )
    assert trusted.exit_code == 0, trusted.output
