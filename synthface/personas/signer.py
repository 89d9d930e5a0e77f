"""Watermark + C2PA signing of persona images in parallel worker processes.

Signing (Ed25519 or ECDSA, manifest building) and watermark embedding are CPU work in C and
numpy that does not need torch, so they run in a pool of `forkserver` processes while
the main process synthesises the next batch. Workers get the signing identity's PEM
bytes once, at start-up; jobs carry only pixels, the assertion and the payload.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthface.provenance.keys import SigningIdentity

_worker_identity: SigningIdentity | None = None
_worker_blas_limit: Any = None  # the worker's BLAS thread limit, held for its lifetime


def single_threaded_blas() -> Any:
    """Keep numpy's BLAS on one thread while personas are made; returns the limiter (a context manager).

    The watermark's matrices are tiny, and OpenBLAS threads busy-wait after each call: on a
    2-core machine they stole about a third of the CPU from synthesis and signing.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


@dataclass(frozen=True)
class SignJob:
    """One image to watermark and sign."""

    pixels: np.ndarray  # uint8 HWC
    assertion: dict[str, Any]
    payload_hex: str
    title: str
    ai_training: str = "notAllowed"  # the manifest's c2pa.training-mining use (the dataset card says the same)


@dataclass(frozen=True)
class SignedBytes:
    """What the dataset keeps of a signed image."""

    data: bytes
    manifest_label: str | None
    manifest_store: bytes


def _identity_from_pem(chain_pem: bytes, key_pem: bytes, source: str) -> SigningIdentity:
    from cryptography import x509

    certificate = x509.load_pem_x509_certificates(chain_pem)[0]
    return SigningIdentity(chain_pem, key_pem, source, certificate)


PARENT_CHECK_SECONDS = 0.5


def _exit_with(parent_pid: int) -> None:
    """End this worker (and the signing key in its memory) as soon as the process that started the
    pool is gone: a killed `generate-personas` must not leave key holders running."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # the pid now belongs to another user's process: ours is gone
            os._exit(1)


def _init_worker(chain_pem: bytes, key_pem: bytes, source: str, parent_pid: int) -> None:
    global _worker_identity, _worker_blas_limit
    threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True, name="parent-watch").start()
    _worker_identity = _identity_from_pem(chain_pem, key_pem, source)
    _worker_blas_limit = single_threaded_blas()


def sign_jobs(jobs: list[SignJob], identity: SigningIdentity | None = None) -> list[SignedBytes]:
    """Watermark and sign each job's pixels (in this process)."""
    from synthface.provenance import Payload, mark_and_sign_many

    identity = identity or _worker_identity
    if identity is None:
        raise RuntimeError("signing worker started without an identity")
    if not jobs:
        return []
    uses = {job.ai_training for job in jobs}
    if len(uses) != 1:
        raise ValueError(f"one batch of signing jobs must share one ai_training setting, got {sorted(uses)}")
    signed = mark_and_sign_many(np.stack([job.pixels for job in jobs]), identity, [job.assertion for job in jobs],
                                [Payload.from_hex(job.payload_hex) for job in jobs], [job.title for job in jobs],
                                ai_training=uses.pop())
    return [SignedBytes(image.data, image.manifest_label, image.manifest_store) for image in signed]


class _DoneFuture(Future):
    def __init__(self, value: list[SignedBytes]) -> None:
        super().__init__()
        self.set_result(value)


class SigningPool:
    """`submit(jobs)` returns a future of the signed bytes; `workers=0` signs inline."""

    def __init__(self, identity: SigningIdentity, workers: int) -> None:
        self.identity = identity
        self.workers = max(0, int(workers))
        self._executor: ProcessPoolExecutor | None = None
        if self.workers > 0:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_init_worker,
                initargs=(identity.chain_pem, identity.key_pem, identity.source, os.getpid()),
            )

    def submit(self, jobs: list[SignJob]) -> list[Future]:
        """Split `jobs` into one chunk per worker; futures come back in job order."""
        if self._executor is None:
            return [_DoneFuture(sign_jobs(jobs, self.identity))]
        size = max(1, -(-len(jobs) // self.workers))
        return [self._executor.submit(sign_jobs, jobs[i : i + size]) for i in range(0, len(jobs), size)]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> SigningPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
