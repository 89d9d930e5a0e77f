"""The full round trip: generate personas -> publish to the (loopback) Hub -> load_dataset -> verify.

Also: a generator published to the Hub and named by its id gives the same personas as
the local folder it came from.
"""

from __future__ import annotations

import pytest
import torch

TINY = dict(resolution=64, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32)


@pytest.fixture
def signing_home(tmp_path, monkeypatch):
    from synthface.provenance import init_keys

    monkeypatch.setenv("SYNTHFACE_HOME", str(tmp_path / "synthface-home"))
    for name in ("SYNTHFACE_SIGNING_CERT", "SYNTHFACE_SIGNING_KEY", "SYNTHFACE_TRUST_ANCHORS", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    init_keys()


def test_generate_publish_load_and_verify_every_image(hub_server, signing_home, tmp_path):
    import datasets

    from synthface.generator import Generator
    from synthface.hub import publish_folder
    from synthface.personas.pipeline import GenerateOptions, generate_personas
    from synthface.provenance import trust_anchors_pem, verify_image

    torch.manual_seed(1)
    Generator(**TINY).save_pretrained(tmp_path / "gen")
    publish_folder(tmp_path / "gen", "user/tiny-gen")

    out = tmp_path / "personas"
    options = GenerateOptions(model="user/tiny-gen", out=out, count=5, variants=2, shard_size=3, workers=0,
                              guard=False, progress=False)
    report = generate_personas(options)
    assert report.images == 10 and report.card_written
    local = GenerateOptions(model=str(tmp_path / "gen"), out=tmp_path / "local", count=5, variants=2,
                            shard_size=3, workers=0, guard=False, progress=False)
    generate_personas(local)

    publish_folder(out, "user/personas")
    rows = datasets.load_dataset("user/personas", split="train")
    raw = rows.cast_column("image", datasets.Image(decode=False))
    anchors = trust_anchors_pem()
    for row in raw:
        result = verify_image(row["image"]["bytes"], anchors)
        assert result.ok, result.summary_line()
        assert result.synthface["generator"] == "user/tiny-gen"
        assert result.watermark_payload == row["watermark_payload"]
    # The Hub model gives the same personas, pixel for pixel, as the local folder it came from.
    local_rows = datasets.load_dataset(str(tmp_path / "local"), split="train")
    assert rows["persona_id"] == local_rows["persona_id"]
    import numpy as np

    for hub_row, local_row in zip(rows, local_rows, strict=True):
        assert np.array_equal(np.asarray(hub_row["image"]), np.asarray(local_row["image"]))
    streamed = datasets.load_dataset("user/personas", split="train", streaming=True)
    streamed = streamed.cast_column("image", datasets.Image(decode=False))
    assert all(verify_image(row["image"]["bytes"], anchors).ok for row in streamed)
    assert hub_server.unknown_requests == []
