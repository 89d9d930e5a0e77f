"""What `synthface detect` and `synthface verify` examine: files, folders, globs and dataset shards.

A persona dataset keeps its signed images inside parquet shards (the Hub's layout), so the
first thing a user checks after `generate-personas` is a folder with no image file in it.
Each row of a shard's image column is therefore an input of its own, named
`SHARD[ROW]`, and its bytes are exactly the signed file's: the manifest and the watermark
are checked as for a loose PNG.

Rows are read one row group at a time, in order, so a large dataset is never held in memory.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthface.errors import SynthfaceError

_GLOB_CHARS = set("*?[")
# The same list as synthface.data.IMAGE_EXTENSIONS, which cannot be imported without torch.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
SHARD_EXTENSION = ".parquet"


@dataclass
class InputItem:
    """One expanded input: a file, one image row of a parquet shard, or an argument that named
    nothing usable (`problem` says why)."""

    label: str
    path: Path | None
    problem: str | None = None
    row: int | None = None
    column: str | None = None

    def source(self, shards: ShardReader) -> bytes | Path:
        """What to read: the file's path, or the row's image bytes."""
        if self.path is None:
            raise SynthfaceError(self.problem or "unusable input")
        if self.row is None:
            return self.path
        return shards.image_bytes(self.path, self.column or "image", self.row)


def expand_inputs(args: list[str]) -> list[InputItem]:
    """Files as given; folders recursively (images and parquet shards, no hidden ones); globs
    expanded, sorted. A shard becomes one item per row of its image column."""
    items: list[InputItem] = []
    for arg in args:
        path = Path(arg).expanduser()
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS | {SHARD_EXTENSION}
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                items.append(InputItem(arg, None, "folder holds no image files or parquet shards"))
            for file in found:
                items.extend(_file_items(str(file), file))
        elif path.is_file():
            items.extend(_file_items(arg, path))
        elif path.exists() or path.is_symlink():
            items.append(InputItem(arg, None, "not a regular file (a pipe, socket, device or broken link); "
                                              "pass an image file"))
        elif _GLOB_CHARS & set(arg):
            matches = sorted(glob.glob(os.path.expanduser(arg), recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                items.append(InputItem(arg, None, "no file matches this pattern"))
            for file in files:
                items.extend(_file_items(str(file), file))
        else:
            items.append(InputItem(arg, None, "no such file or folder"))
    return items


_SHARD_NAME = re.compile(r"^(?P<split>[\w.-]+)-(?P<index>\d{5})-of-(?P<total>\d{5})\.parquet$")


def unfinished_shard_sets(items: list[InputItem]) -> list[tuple[Path, int, int]]:
    """(folder, shards present, shards named) for every set of `NAME-XXXXX-of-YYYYY.parquet` shards
    among `items` that lacks some of its shards: a dataset whose run was stopped before the end."""
    present: dict[tuple[Path, str, int], set[int]] = {}
    for item in items:
        if item.path is None or item.row is None:
            continue
        match = _SHARD_NAME.match(item.path.name)
        if match:
            key = (item.path.parent, match["split"], int(match["total"]))
            present.setdefault(key, set()).add(int(match["index"]))
    return [(folder, len(found), total) for (folder, _, total), found in sorted(present.items())
            if len(found) < total]


def _file_items(label: str, path: Path) -> list[InputItem]:
    if path.suffix.lower() != SHARD_EXTENSION:
        return [InputItem(label, path)]
    try:
        column, num_rows = shard_image_column(path)
    except SynthfaceError as exc:
        return [InputItem(label, None, str(exc))]
    return [InputItem(f"{label}[{row}]", path, row=row, column=column) for row in range(num_rows)]


def shard_image_column(path: Path) -> tuple[str, int]:
    """The shard's image column (`image`, else the first with the Image feature's `bytes` field)
    and its row count, from the footer alone."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise SynthfaceError(f"not a readable parquet shard ({exc}); pass the dataset's data/*.parquet "
                             "files or its folder") from None
    schema = meta.schema_arrow
    candidates = [f.name for f in schema if pa.types.is_struct(f.type) and f.type.get_field_index("bytes") >= 0]
    if not candidates:
        raise SynthfaceError("parquet shard has no image column (a struct with image bytes, as "
                             "datasets.Image() writes); nothing to check")
    column = "image" if "image" in candidates else candidates[0]
    return column, meta.metadata.num_rows


class ShardReader:
    """Image bytes of shard rows, one row group decoded at a time (rows come in order)."""

    def __init__(self) -> None:
        self._shards: dict[Path, tuple[Any, list[int]]] = {}
        self._key: tuple[Path, str, int] | None = None
        self._values: list[Any] = []

    def image_bytes(self, path: Path, column: str, row: int) -> bytes:
        import pyarrow as pa

        try:
            shard, starts = self._open(path)
            group = max(i for i, start in enumerate(starts) if start <= row)
            if self._key != (path, column, group):
                self._values = shard.read_row_group(group, columns=[column]).column(column).to_pylist()
                self._key = (path, column, group)
        except (OSError, pa.ArrowException) as exc:
            raise SynthfaceError(f"cannot read this row of the shard ({exc})") from None
        value = self._values[row - starts[group]]
        data = value.get("bytes") if isinstance(value, dict) else None
        if not data:
            raise SynthfaceError(f"row has no image bytes in column {column!r}")
        return data

    def _open(self, path: Path) -> tuple[Any, list[int]]:
        """The open shard and the first row of each of its row groups."""
        if path not in self._shards:
            import pyarrow.parquet as pq

            shard = pq.ParquetFile(path)
            sizes = [shard.metadata.row_group(i).num_rows for i in range(shard.metadata.num_row_groups)]
            self._shards[path] = shard, [sum(sizes[:i]) for i in range(len(sizes))]
        return self._shards[path]
