"""Where images come from: a folder of image files or a Hugging Face dataset.

Both kinds are reduced to the same thing, a `ResolvedSource`: a sorted list of
names, a fingerprint that changes whenever the data changes (it keys the cache),
and a way to fetch the raw encoded bytes / file paths for a range of items, so the
decoding workers never care where an image came from.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthface.errors import SynthfaceError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
# Files in a folder that mean "this is a dataset for `datasets.load_dataset`", not loose images.
_TABLE_EXTENSIONS = frozenset({".parquet", ".arrow"})
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")

Payload = str | bytes


@dataclass
class ResolvedSource:
    """A source ready to be decoded: names in order, a fingerprint and a payload fetcher."""

    kind: str  # "folder" or "dataset"
    label: str  # what the user passed, for messages
    names: list[str]
    fingerprint: str
    fetch: Callable[[int, int], list[Payload]]  # payloads (path or encoded bytes) of items [start, stop)

    def truncated(self, max_images: int | None) -> ResolvedSource:
        """The first `max_images` items (all when None)."""
        if max_images is None or max_images >= len(self.names):
            return self
        return ResolvedSource(self.kind, self.label, self.names[:max_images], self.fingerprint, self.fetch)


def _is_hidden(relative: Path) -> bool:
    """Dot-files and dot-folders (.DS_Store, ._IMG.jpg from macOS, .cache) are never data."""
    return any(part.startswith(".") for part in relative.parts)


def _scan_images(root: Path) -> list[tuple[str, str]]:
    """(relative POSIX name, full path) of every image under `root`, sorted by name.

    Plain strings, not `Path` objects: for tens of thousands of files the path-object
    overhead would dominate a cached start.
    """
    found: list[tuple[str, str]] = []
    root_text = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(root_text):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        relative_dir = os.path.relpath(dirpath, root_text).replace(os.sep, "/")
        prefix = "" if relative_dir == "." else relative_dir + "/"
        for filename in filenames:
            if filename.startswith(".") or os.path.splitext(filename)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            path = os.path.join(dirpath, filename)
            if not os.path.isfile(path):  # a FIFO, socket, device, or a broken or looping symlink
                log.warning("skipped %s: not a regular file", path)
                continue
            found.append((prefix + filename, path))
    found.sort(key=lambda item: item[0])
    return found


def list_image_files(folder: str | Path) -> list[Path]:
    """Every image file under `folder`, recursively, sorted by relative POSIX path.

    Extensions are matched case-insensitively; hidden files and folders are ignored, and so is
    anything but a regular file (a FIFO would block the reader, a link loop has no content).
    Symlinked folders are not followed (a link loop must not hang the listing).
    """
    root = Path(folder)
    if not root.is_dir():
        raise SynthfaceError(f"image folder '{folder}' not found or not a folder")
    return [Path(path) for _, path in _scan_images(root)]


def folder_fingerprint(entries: Sequence[tuple[str, str]]) -> str:
    """Hash of every file's relative name and content.

    Content, not modification times: a folder copied or re-materialised with new mtimes (as
    shared data often is) keeps its key, so prepared images and FID reference statistics
    (tens of minutes of CPU for 10k faces) stay cached. Hashing 200 MB takes ~2 s, so each
    file's content hash is remembered against its (size, mtime) in a stat index under the
    cache; only files whose stat changed are read again.
    """
    index = _StatIndex.for_entries(entries)
    digest = hashlib.sha256(b"synthface-folder-v2\n")
    for name, path in entries:
        digest.update(f"{name}\0{index.content_hash(path)}\n".encode())
    index.save()
    return digest.hexdigest()


class _StatIndex:
    """path -> (size, mtime_ns, blake2b of the bytes), kept per file set under the cache root."""

    def __init__(self, path: Path, rows: dict[str, list]) -> None:
        self.path, self.rows, self.changed = path, rows, False

    @classmethod
    def for_entries(cls, entries: Sequence[tuple[str, str]]) -> _StatIndex:
        import json

        from synthface.data.cache import cache_root

        key = hashlib.sha256("\n".join(os.path.abspath(path) for _, path in entries).encode()).hexdigest()[:24]
        path = cache_root() / "fingerprints" / f"{key}.json"
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError):
            rows = {}
        return cls(path, rows if isinstance(rows, dict) else {})

    def content_hash(self, path: str) -> str:
        try:
            stat = os.stat(path)
        except OSError:
            return "unreadable"  # it will be skipped, but still counts as a change
        row = self.rows.get(path)
        if isinstance(row, list) and len(row) == 3 and row[:2] == [stat.st_size, stat.st_mtime_ns]:
            return row[2]
        try:
            with open(path, "rb") as handle:
                content = hashlib.blake2b(handle.read()).hexdigest()
        except OSError:
            return "unreadable"
        self.rows[path] = [stat.st_size, stat.st_mtime_ns, content]
        self.changed = True
        return content

    def save(self) -> None:
        """Best effort: a read-only cache only costs the next call a re-read."""
        import json

        from synthface.io_utils import write_text_atomic

        if self.changed:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(self.path, json.dumps(self.rows))
            except OSError:
                pass


def _folder_source(root: Path, label: str) -> ResolvedSource:
    entries = _scan_images(root)
    if not entries:
        raise SynthfaceError(
            f"image folder '{label}' contains no images "
            f"({', '.join(sorted(IMAGE_EXTENSIONS))}); point to a folder with photos in it"
        )
    names = [name for name, _ in entries]
    paths = [path for _, path in entries]

    def fetch(start: int, stop: int) -> list[Payload]:
        return list(paths[start:stop])

    return ResolvedSource("folder", label, names, folder_fingerprint(entries), fetch)


def _is_saved_dataset(folder: Path) -> bool:
    """`Dataset.save_to_disk` / `DatasetDict.save_to_disk` leave these marker files."""
    return (folder / "dataset_dict.json").is_file() or (
        (folder / "state.json").is_file() and (folder / "dataset_info.json").is_file()
    )


def _looks_like_table_dataset(folder: Path, max_depth: int = 2) -> bool:
    """A folder in the Hub layout (parquet/arrow shards, e.g. data/train-*.parquet).

    Shards sit at most a couple of levels down, so the search stops there instead of
    walking a whole photo tree.
    """
    level = [folder]
    for _depth in range(max_depth + 1):
        children: list[Path] = []
        for directory in level:
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_file() and os.path.splitext(entry.name)[1].lower() in _TABLE_EXTENSIONS:
                        return True
                    if entry.is_dir(follow_symlinks=False):
                        children.append(Path(entry.path))
                except OSError:  # a symlink loop or a file that vanished: not a table, not a folder
                    continue
        level = children
    return False


def _pick_split(dataset: Any, label: str) -> Any:
    """A `DatasetDict` gives its "train" split (or its only one); a `Dataset` is used as is."""
    from datasets import DatasetDict, IterableDataset, IterableDatasetDict

    if isinstance(dataset, (IterableDataset, IterableDatasetDict)):
        raise SynthfaceError(f"dataset '{label}' is a streaming dataset; save or download it first")
    if isinstance(dataset, DatasetDict):
        if not dataset:
            raise SynthfaceError(f"dataset '{label}' has no splits")
        split = "train" if "train" in dataset else sorted(dataset)[0]
        if len(dataset) > 1:
            log.info("dataset '%s': using split '%s' of %s", label, split, ", ".join(sorted(dataset)))
        return dataset[split]
    return dataset


def _dataset_source(dataset: Any, label: str, image_column: str) -> ResolvedSource:
    from datasets import Image as ImageFeature

    dataset = _pick_split(dataset, label)
    if image_column not in dataset.column_names:
        available = ", ".join(dataset.column_names) or "(none)"
        raise SynthfaceError(
            f"dataset '{label}' has no column '{image_column}'; available columns: {available} "
            f"(pass image_column=...)"
        )
    feature = dataset.features[image_column]
    if not isinstance(feature, ImageFeature):
        raise SynthfaceError(
            f"column '{image_column}' of dataset '{label}' holds {type(feature).__name__} values, "
            f"not images; "
            f"pick an image column (columns: {', '.join(dataset.column_names)})"
        )
    # Undecoded access hands us the encoded bytes (or a file path): the workers decode them.
    raw = dataset.select_columns([image_column]).cast_column(image_column, ImageFeature(decode=False))
    count = len(raw)
    if count == 0:
        raise SynthfaceError(f"dataset '{label}' is empty")
    width = max(6, len(str(count - 1)))
    names = [f"{index:0{width}d}" for index in range(count)]

    def fetch(start: int, stop: int) -> list[Payload]:
        payloads: list[Payload] = []
        for cell in raw[start:stop][image_column]:
            if cell is None:
                payloads.append(b"")  # a missing image: decoding reports it as unreadable
            elif cell.get("bytes"):
                payloads.append(cell["bytes"])
            else:
                payloads.append(cell.get("path") or "")
        return payloads

    fingerprint = hashlib.sha256(
        f"synthface-dataset-v1\n{getattr(dataset, '_fingerprint', '')}\n{count}\n{image_column}".encode()
    ).hexdigest()
    return ResolvedSource("dataset", label, names, fingerprint, fetch)


def _not_found(label: str) -> SynthfaceError:
    return SynthfaceError(
        f"data source '{label}' not found: give an image folder, a saved dataset folder "
        f"or a Hugging Face dataset id"
    )


def resolve_source(source: str | Path, image_column: str = "image") -> ResolvedSource:
    """Work out what `source` is and return it as a `ResolvedSource`.

    Order: an existing folder that `save_to_disk` wrote -> `load_from_disk`; a folder
    with parquet/arrow shards (the Hub layout) -> `load_dataset(path)`; any other existing
    folder -> loose image files; a string that is not a path but looks like a Hub id
    ("name" or "owner/name") -> `load_dataset(id)`.
    """
    label = str(source)
    path = Path(source).expanduser()
    if path.is_dir():
        if _is_saved_dataset(path):
            from datasets import load_from_disk

            try:
                return _dataset_source(load_from_disk(str(path)), label, image_column)
            except SynthfaceError:
                raise
            except Exception as exc:  # noqa: BLE001 - datasets raises many types; the user needs one line
                raise SynthfaceError(f"cannot load saved dataset '{label}': {exc}".splitlines()[0]) from None
        if _looks_like_table_dataset(path):
            return _load_with_datasets(str(path), label, image_column, local=True,
                                       cache_dir=_local_dataset_cache(path))
        return _folder_source(path, label)
    if path.exists():
        raise SynthfaceError(
            f"data source '{label}' is a file, not a folder: give the folder that holds the images"
        )
    if isinstance(source, str) and _HUB_ID.match(source) and not source.startswith("."):
        return _load_with_datasets(source, label, image_column, local=False)
    raise _not_found(label)


def _local_dataset_cache(folder: Path) -> str:
    """A `datasets` cache folder for this state of a local dataset folder.

    `datasets` keys its cache for a local folder by the folder's *name* and its card's file
    patterns, not by content: a folder regenerated in place, or another folder of the same
    name, would be served from the old entry. Keying by every file's name and content
    makes a changed folder a new entry (and keeps the user's HF cache out of it).
    """
    from synthface.data.cache import cache_root

    entries = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        entries += [(os.path.relpath(os.path.join(dirpath, f), folder), os.path.join(dirpath, f))
                    for f in filenames if not f.startswith(".")]
    return str(cache_root() / "datasets" / folder_fingerprint(sorted(entries))[:24])


def _load_with_datasets(path_or_id: str, label: str, image_column: str, local: bool,
                        cache_dir: str | None = None) -> ResolvedSource:
    from datasets import load_dataset

    try:
        dataset = load_dataset(path_or_id, cache_dir=cache_dir)
    except Exception as exc:  # noqa: BLE001 - offline, unknown id, bad files: all end the same for the user
        if not local:
            raise _not_found(label) from None
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise SynthfaceError(
            f"cannot load dataset folder '{label}' with datasets.load_dataset: {first_line}"
        ) from None
    return _dataset_source(dataset, label, image_column)
