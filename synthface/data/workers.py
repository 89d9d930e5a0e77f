"""Decode + crop + resize many images in worker processes.

JPEG decoding and Lanczos resizing hold the GIL for most of their time, so threads
would not help; processes do. Work is sent in chunks (tens of images) to keep the
inter-process traffic to one array per chunk instead of one per image.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

import numpy as np

from synthface.data.decode import ImageReadError, decode_image
from synthface.data.geometry import crop_and_resize, to_chw_array

Payload = str | bytes
Result = TypeVar("Result")


@dataclass(frozen=True)
class PrepOptions:
    resolution: int
    crop: str
    channels: int
    fit: str


@dataclass
class ChunkResult:
    start: int  # index of the chunk's first item
    ok: list[int]  # offsets (within the chunk) of the images in `images`, in order
    images: np.ndarray  # uint8 [len(ok), C, H, W]
    failures: list[tuple[int, str]]  # (offset, reason)


def prepare_one(payload: Payload, name: str, options: PrepOptions) -> np.ndarray:
    """One image -> uint8 [C, R, R]; raises ImageReadError when it cannot be used."""
    if not payload:  # a dataset row without bytes or path
        raise ImageReadError(name, "no image data")
    image = decode_image(payload, channels=options.channels, name=name)
    try:
        resized = crop_and_resize(image, options.resolution, options.crop, options.fit)
    except (ValueError, OSError, MemoryError) as exc:
        raise ImageReadError(name, f"cannot crop/resize ({exc})") from None
    return to_chw_array(resized)


def prepare_chunk(start: int, payloads: list[Payload], names: list[str], options: PrepOptions) -> ChunkResult:
    """Process a run of consecutive items; failures are reported, never raised."""
    ok: list[int] = []
    arrays: list[np.ndarray] = []
    failures: list[tuple[int, str]] = []
    for offset, (payload, name) in enumerate(zip(payloads, names, strict=True)):
        try:
            arrays.append(prepare_one(payload, name, options))
            ok.append(offset)
        except ImageReadError as exc:
            failures.append((offset, exc.reason))
        except Exception as exc:  # noqa: BLE001 - a decoder bug on one file must not end the batch
            failures.append((offset, f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"))
    shape = (len(arrays), options.channels, options.resolution, options.resolution)
    images = np.stack(arrays) if arrays else np.empty(shape, dtype=np.uint8)
    return ChunkResult(start, ok, images, failures)


def crashed_chunk(index: int, reason: str, options: PrepOptions) -> ChunkResult:
    """The result for one image whose decoder killed its worker process."""
    side = options.resolution
    return ChunkResult(index, [], np.empty((0, options.channels, side, side), dtype=np.uint8), [(0, reason)])


@dataclass(frozen=True)
class ChunkWork(Generic[Result]):
    """What the workers do with a chunk, and what stands for an image that crashed its worker.

    `run(start, payloads, names)` must report a bad image in its result rather than raise;
    `crashed(index, reason)` is the result for image `index` alone when decoding it kills the
    process (a C-level decoder crash), so one such file never ends a batch.
    """

    run: Callable[[int, list[Payload], list[str]], Result]
    crashed: Callable[[int, str], Result]


def prepare_work(options: PrepOptions) -> ChunkWork[ChunkResult]:
    """The square-crop-and-resize work of `prepare_images`."""
    return ChunkWork(partial(prepare_chunk, options=options), partial(crashed_chunk, options=options))


def default_workers() -> int:
    """CPUs this process may use (affinity-aware), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _context() -> multiprocessing.context.BaseContext:
    # fork starts in milliseconds and needs no `if __name__ == "__main__"` guard in the caller's
    # script; the workers only use Pillow and numpy, never torch, so forking a torch process is safe.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_chunks(
    count: int,
    fetch: Callable[[int, int], list[Payload]],
    names: list[str],
    work: ChunkWork[Result],
    workers: int,
    chunk_size: int = 64,
) -> Iterator[Result]:
    """Yield results of all chunks (in completion order) of items 0..count-1.

    With one worker everything runs in this process, which is also the fast path for
    small sets where starting processes would cost more than decoding.
    """
    bounds = [(start, min(start + chunk_size, count)) for start in range(0, count, chunk_size)]
    if workers <= 1 or len(bounds) <= 1:
        for start, stop in bounds:
            yield work.run(start, fetch(start, stop), names[start:stop])
        return
    broken: list[tuple[int, int]] = []
    yield from _run_pool(bounds, fetch, names, work, workers, broken)
    if broken:
        yield from _isolate_crashes(broken, fetch, names, work)


def _run_pool(
    bounds: list[tuple[int, int]],
    fetch: Callable[[int, int], list[Payload]],
    names: list[str],
    work: ChunkWork[Result],
    workers: int,
    broken: list[tuple[int, int]],
) -> Iterator[Result]:
    """Run chunks in a process pool; chunks lost to a dead worker are appended to `broken`."""
    max_in_flight = workers * 3  # bounded, so payloads (HF bytes) are not all held in memory at once
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
        pending: dict[Future[Result], tuple[int, int]] = {}
        queue = iter(bounds)

        def collect(done: set[Future[Result]]) -> Iterator[Result]:
            for future in done:
                span = pending.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    broken.append(span)

        try:
            for start, stop in queue:
                if broken:  # the pool is dead: everything not yet run is retried afterwards
                    broken.append((start, stop))
                    continue
                future = pool.submit(work.run, start, fetch(start, stop), names[start:stop])
                pending[future] = (start, stop)
                if len(pending) >= max_in_flight:
                    done, _ = wait(set(pending), return_when=FIRST_COMPLETED)
                    yield from collect(done)
            while pending:
                done, _ = wait(set(pending), return_when=FIRST_COMPLETED)
                yield from collect(done)
        finally:
            for future in pending:
                future.cancel()


def _isolate_crashes(
    spans: list[tuple[int, int]],
    fetch: Callable[[int, int], list[Payload]],
    names: list[str],
    work: ChunkWork[Result],
) -> Iterator[Result]:
    """Retry chunks whose worker died (a decoder crash), one image per fresh worker.

    Only the image that kills its worker again is reported as failed; in-process
    retries would take the whole preparation down with it.
    """
    pool: ProcessPoolExecutor | None = None
    try:
        for start, stop in sorted(spans):
            for index in range(start, stop):
                if pool is None:
                    pool = ProcessPoolExecutor(max_workers=1, mp_context=_context())
                payload, name = fetch(index, index + 1), names[index : index + 1]
                future = pool.submit(work.run, index, payload, name)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool = None
                    yield work.crashed(index, "the decoder crashed on this file (its worker process died)")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
