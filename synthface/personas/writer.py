"""Dataset shards in the Hub's layout: data/train-XXXXX-of-YYYYY.parquet.

The image column is a `datasets` Image feature whose `bytes` are the exact signed
PNG bytes: rows are handed over as {"bytes": ..., "path": None}, which `datasets`
stores as-is (re-encoding would strip the C2PA manifest). A shard is written to a
temporary file and renamed into place, so after a kill a shard is either complete or
absent; its footer carries the run's plan id and counts, which is how `--resume`
recognises finished shards and how the card adds up the guard's drops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthface.errors import SynthfaceError
from synthface.io_utils import atomic_path

DATA_DIR = "data"
SPLIT = "train"
STATS_KEY = b"synthface"
ROW_GROUP_SIZE = 100


def shard_relpath(index: int, num_shards: int) -> str:
    return f"{DATA_DIR}/{SPLIT}-{index:05d}-of-{num_shards:05d}.parquet"


def dataset_features(num_ws: int, w_dim: int):
    """The columns of a persona dataset (one row per image)."""
    import datasets

    string, int64 = datasets.Value("string"), datasets.Value("int64")
    return datasets.Features(
        {
            "image": datasets.Image(),
            "image_id": string,
            "persona_id": string,
            "variant": datasets.Value("int32"),
            "name": string,
            "pronouns": string,
            "profile": string,
            "perceived_gender": string,
            "p_female": datasets.Value("float32"),
            "seed": int64,
            "psi": datasets.Value("float32"),
            "w": datasets.Array2D(shape=(num_ws, w_dim), dtype="float16"),
            "style_parents": datasets.Sequence(int64),
            "crossover": string,
            "noise_seed": int64,
            "generator_id": string,
            "checkpoint_sha256": string,
            "synthface_version": string,
            "created_at": string,
            "watermark_payload": string,
            "c2pa_manifest_label": string,
            "guard_distance": datasets.Value("float32"),
        }
    )


def write_shard(path: Path, rows: dict[str, list[Any]], features, stats: dict[str, Any]) -> Path:
    """Write one shard atomically; `stats` goes into the parquet footer."""
    import datasets
    import pyarrow.parquet as pq

    table = datasets.Dataset.from_dict(rows, features=features).data.table
    metadata = dict(table.schema.metadata or {})
    metadata[STATS_KEY] = json.dumps(stats, sort_keys=True).encode()
    table = table.replace_schema_metadata(metadata)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE)
    return path


def dataset_info_yaml(shards: list[Path], features, num_rows: int) -> dict[str, Any]:
    """The card's `dataset_info` block, as `push_to_hub` writes it: features, split sizes, bytes.

    Besides telling the Hub viewer the schema and size, it is what makes `datasets` see a
    regenerated folder as new: `datasets` keys a local folder's cache by its name and a hash of
    the card's YAML, and the shards' byte counts differ between any two different runs.
    """
    import pyarrow.parquet as pq
    from datasets.info import DatasetInfo
    from datasets.splits import SplitDict, SplitInfo

    download_size = sum(path.stat().st_size for path in shards)
    dataset_size = 0
    for path in shards:
        metadata = pq.read_metadata(path)
        dataset_size += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    splits = SplitDict()
    splits.add(SplitInfo(name=SPLIT, num_bytes=dataset_size, num_examples=num_rows))
    info = DatasetInfo(features=features, splits=splits, download_size=download_size, dataset_size=dataset_size)
    return info._to_yaml_dict()


def read_shard_stats(path: Path) -> dict[str, Any] | None:
    """The footer stats of a finished shard; None if the file is absent."""
    import pyarrow.parquet as pq

    if not path.is_file():
        return None
    try:
        metadata = pq.read_schema(path).metadata or {}
        return json.loads(metadata[STATS_KEY])
    except (OSError, KeyError, ValueError) as exc:
        raise SynthfaceError(
            f"{path} is not a finished persona shard ({exc.__class__.__name__}); delete it and rerun"
        ) from None
    except Exception as exc:  # pyarrow.ArrowInvalid for truncated files
        raise SynthfaceError(f"{path} is damaged ({exc}); delete it and rerun with --resume") from None
