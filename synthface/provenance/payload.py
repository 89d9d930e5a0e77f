"""The watermark payload: which image, which issuing key, and a CRC to tell noise from a mark.

Layout (80 bits, big-endian): 32-bit image id, 16-bit key id, 32-bit CRC-32 of the first six
bytes. The CRC is what lets a decoder say "no watermark": random bits pass it with
probability 2**-32, so unmarked photos almost never decode to a payload.
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass

import numpy as np

from synthface.errors import SynthfaceError

PAYLOAD_BITS = 48
CRC_BITS = 32
CODED_BITS = PAYLOAD_BITS + CRC_BITS


def image_id_from(text: str) -> int:
    """A 32-bit image id: the first four bytes of sha256(text), e.g. of a persona or image id."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big")


def key_id_from(public_key_der: bytes) -> int:
    """A 16-bit issuer id: the first two bytes of sha256 of the signer's public key (DER)."""
    return int.from_bytes(hashlib.sha256(public_key_der).digest()[:2], "big")


@dataclass(frozen=True)
class Payload:
    """What the watermark carries. `hex` is its canonical text form (12 hex digits)."""

    image_id: int
    key_id: int

    def __post_init__(self) -> None:
        if not 0 <= self.image_id < 2**32:
            raise SynthfaceError(f"watermark image id {self.image_id} does not fit in 32 bits")
        if not 0 <= self.key_id < 2**16:
            raise SynthfaceError(f"watermark key id {self.key_id} does not fit in 16 bits")

    @property
    def body(self) -> bytes:
        return self.image_id.to_bytes(4, "big") + self.key_id.to_bytes(2, "big")

    @property
    def hex(self) -> str:
        return self.body.hex()

    @classmethod
    def from_hex(cls, text: str) -> Payload:
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise SynthfaceError(f"watermark payload {text!r} is not 12 hex digits") from exc
        if len(raw) != 6:
            raise SynthfaceError(f"watermark payload {text!r} is not 12 hex digits")
        return cls(int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:], "big"))

    def to_bits(self) -> np.ndarray:
        """The 80 coded bits (payload then CRC-32) as a uint8 array of 0/1."""
        crc = binascii.crc32(self.body).to_bytes(4, "big")
        return np.unpackbits(np.frombuffer(self.body + crc, dtype=np.uint8))

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> Payload | None:
        """Decode 80 bits; None when the CRC fails (no watermark, or too damaged to trust)."""
        if bits.shape != (CODED_BITS,):
            raise SynthfaceError(f"expected {CODED_BITS} watermark bits, got {bits.shape}")
        raw = np.packbits(bits.astype(np.uint8)).tobytes()
        body, crc = raw[:6], raw[6:]
        if binascii.crc32(body).to_bytes(4, "big") != crc:
            return None
        return cls(int.from_bytes(body[:4], "big"), int.from_bytes(body[4:], "big"))
