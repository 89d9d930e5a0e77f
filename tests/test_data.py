"""The image data pipeline: decoding, crop presets, squaring, caching, sources, bad files.

Synthetic images are drawn with PIL so each test knows exactly which pixels the
crop must keep; the real photos (when present) check the pipeline end to end.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from synthface.data import (
    PreparedImages,
    list_image_files,
    load_image,
    prepare_images,
    preset_box,
    resolve_preset,
)
from synthface.data import decode as decode_module
from synthface.data import prepare as prepare_module
from synthface.data.geometry import crop_and_resize
from synthface.errors import SynthfaceError

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def _marked(size: tuple[int, int], box: tuple[int, int, int, int], inside=RED, outside=BLUE) -> Image.Image:
    """An image whose pixels are `inside` exactly within `box` and `outside` elsewhere."""
    image = Image.new("RGB", size, outside)
    image.paste(inside, box)
    return image


def _prepare(folder: Path, resolution: int, tmp_path: Path, **kwargs) -> PreparedImages:
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    return prepare_images(folder, resolution, progress=False, **kwargs)


def _pixels(prep: PreparedImages, index: int = 0) -> np.ndarray:
    """HWC uint8 array of one prepared image."""
    return prep.images[index].permute(1, 2, 0).numpy()


# --- crop presets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "size", "box"),
    [("celeba", (178, 218), (19, 40, 159, 180)), ("lfw", (250, 250), (50, 58, 200, 208))],
)
def test_dataset_presets_cut_exactly_the_face_square(preset, size, box):
    image = _marked(size, box)
    assert preset_box(preset, *size) == tuple(float(v) for v in box)
    side = box[2] - box[0]
    same_size = np.asarray(crop_and_resize(image, side, preset))
    assert (same_size == RED).all()  # every kept pixel is inside the box, none outside is kept
    one_pixel_wider = _marked(size, (box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1))
    border = np.asarray(crop_and_resize(one_pixel_wider, side, preset))
    assert (border[0, :] == BLUE).all() and (border[:, -1] == BLUE).all()  # the box edge is the crop edge


def test_auto_picks_the_preset_by_size():
    assert resolve_preset("auto", 178, 218) == "celeba"
    assert resolve_preset("auto", 250, 250) == "lfw"
    assert resolve_preset("auto", 300, 200) == "center"
    assert resolve_preset("auto", 218, 178) == "center"
    assert resolve_preset("lfw", 178, 218) == "lfw"  # an explicit preset is never second-guessed


def test_auto_crops_each_image_of_a_folder_by_its_own_size(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _marked((178, 218), (19, 40, 159, 180)).save(folder / "a_celeba.png")
    _marked((250, 250), (50, 58, 200, 208)).save(folder / "b_lfw.png")
    centre = Image.new("RGB", (300, 200), GREEN)
    centre.paste(RED, (50, 0, 250, 200))  # the central 200x200 square is red
    centre.save(folder / "c_other.png")
    prep = _prepare(folder, 32, tmp_path)
    assert prep.names == ["a_celeba.png", "b_lfw.png", "c_other.png"]
    for index in range(3):
        assert (_pixels(prep, index) == RED).all(), prep.names[index]


def test_center_and_none_presets(tmp_path):
    image = Image.new("RGB", (300, 200), GREEN)
    image.paste(RED, (50, 0, 250, 200))
    assert (np.asarray(crop_and_resize(image, 50, "center")) == RED).all()
    whole = np.asarray(crop_and_resize(image, 200, "none", fit="pad"))
    assert (whole[50:150, 0:28] == GREEN).all() and (whole[50:150, 40:160] == RED).all()


def test_scaled_dataset_preset_keeps_the_same_region():
    image = _marked((356, 436), (38, 80, 318, 360))  # CelebA at twice the size
    assert (np.asarray(crop_and_resize(image, 70, "celeba")) == RED).all()


@pytest.mark.parametrize("size", [(1, 1), (3, 1), (1, 5), (7, 3)])
@pytest.mark.parametrize("crop", ["auto", "celeba", "lfw", "center", "none"])
@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_tiny_images_still_give_the_requested_size(size, crop, fit):
    assert crop_and_resize(Image.new("L", size, 9), 8, crop, fit).size == (8, 8)


# --- squaring non-square regions -----------------------------------------------------------------


def test_fit_pad_letterboxes_and_fit_crop_takes_the_centre(tmp_path):
    image = Image.new("RGB", (200, 100), GREEN)
    image.paste(RED, (50, 0, 150, 100))  # the central square is red, the sides green
    padded = np.asarray(crop_and_resize(image, 100, "none", fit="pad"))
    # Black bars above and below (a few rows of Lanczos ringing at the bar edge are allowed).
    assert (padded[:22] == 0).all() and (padded[-22:] == 0).all() and padded[:25].max() < 40
    assert (padded[30:70, 0:20] == GREEN).all() and (padded[30:70, 30:70] == RED).all()
    cropped = np.asarray(crop_and_resize(image, 100, "none", fit="crop"))
    assert (cropped == RED).all()

    folder = tmp_path / "wide"
    folder.mkdir()
    image.save(folder / "wide.png")
    by_pad = _prepare(folder, 40, tmp_path, crop="none", fit="pad")
    by_crop = _prepare(folder, 40, tmp_path, crop="none", fit="crop")
    assert by_pad.cache_key != by_crop.cache_key
    assert (_pixels(by_pad)[:7] == 0).all() and (_pixels(by_crop) == RED).all()


# --- channels and odd modes ----------------------------------------------------------------------


def test_grayscale_output(tmp_path):
    folder = tmp_path / "gray"
    folder.mkdir()
    Image.new("RGB", (64, 64), RED).save(folder / "red.png")
    Image.new("RGB", (64, 64), WHITE).save(folder / "white.png")
    prep = _prepare(folder, 16, tmp_path, channels=1)
    assert prep.images.shape == (2, 1, 16, 16) and prep.images.dtype == torch.uint8
    assert (prep.images[0] == 76).all()  # ITU-R 601 luma of pure red: 0.299 * 255
    assert (prep.images[1] == 255).all()


def _odd_mode_images() -> dict[str, tuple[Image.Image, tuple[int, int, int]]]:
    """name -> (image in an odd mode, the RGB colour it must become)."""
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red -> white
    la = Image.new("LA", (8, 8), (0, 0))  # transparent black -> white
    half = Image.new("RGBA", (8, 8), (0, 0, 255, 128))  # half-transparent blue over white
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette_transparent = palette.copy()
    palette_transparent.info["transparency"] = 1
    deep = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))  # 16-bit white
    deep_mid = Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16))  # 16-bit 50 % grey
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # no cyan/black, full magenta+yellow = red
    bilevel = Image.new("1", (8, 8), 1)
    return {
        "rgba.png": (rgba, WHITE),
        "la.png": (la, WHITE),
        "half.png": (half, (127, 127, 255)),
        "palette.png": (palette, GREEN),
        "palette_transparent.png": (palette_transparent, WHITE),
        "deep.png": (deep, WHITE),
        "deep_mid.png": (deep_mid, (128, 128, 128)),
        "cmyk.tif": (cmyk, RED),
        "bilevel.bmp": (bilevel, WHITE),
    }


@pytest.mark.parametrize("name", sorted(_odd_mode_images()))
def test_odd_modes_become_sensible_rgb(tmp_path, name):
    image, expected = _odd_mode_images()[name]
    path = tmp_path / name
    image.save(path)
    with Image.open(path) as reopened:
        assert reopened.mode not in ("RGB",), "the file must really be stored in the odd mode"
    loaded = load_image(path)
    assert loaded.mode == "RGB" and loaded.size == (8, 8)
    assert np.abs(np.asarray(loaded).astype(int) - expected).max() <= 1, np.asarray(loaded)[0, 0]


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), BLUE)
    image.paste(RED, (0, 0, 20, 20))  # left half red as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "sideways.jpg"
    image.save(path, exif=exif, quality=95)
    upright = np.asarray(load_image(path)).astype(int)
    assert upright.shape == (40, 20, 3)
    assert np.abs(upright[5, 10] - RED).max() < 40 and np.abs(upright[35, 10] - BLUE).max() < 40


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), RED), Image.new("RGB", (16, 16), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert (np.asarray(load_image(path)) == RED).all()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [12_000, 60_000])  # above the limit, and above Pillow's own 2x limit
def test_decompression_bomb_is_refused_without_decoding(tmp_path, side):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(side, side))
    with pytest.raises(SynthfaceError, match="decompression bomb") as info:
        load_image(path)
    assert "bomb.png" in str(info.value) and "\n" not in str(info.value)


# --- bad files in a batch ------------------------------------------------------------------------


def _noise_jpeg(seed: int, size: tuple[int, int] = (64, 64)) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def folder_with_bad_files(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for index in range(4):
        (folder / f"good_{index}.jpg").write_bytes(_noise_jpeg(index))
    (folder / "sub" / "good_deep.JPEG").write_bytes(_noise_jpeg(9))
    (folder / "sub" / "corrupt.png").write_bytes(b"this is not a png at all")
    (folder / "truncated.jpg").write_bytes(_noise_jpeg(7)[:1500])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not an image, not listed")
    (folder / ".hidden.jpg").write_bytes(b"junk that must be ignored")
    return folder


def test_list_image_files_is_recursive_sorted_and_filtered(folder_with_bad_files):
    names = [p.relative_to(folder_with_bad_files).as_posix() for p in list_image_files(folder_with_bad_files)]
    assert names == sorted(names)
    assert "sub/good_deep.JPEG" in names and "notes.txt" not in names and ".hidden.jpg" not in names
    assert len(names) == 8


def test_corrupt_and_truncated_files_are_skipped_and_reported(folder_with_bad_files, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="synthface.data"):
        prep = _prepare(folder_with_bad_files, 16, tmp_path)
    assert prep.names == ["good_0.jpg", "good_1.jpg", "good_2.jpg", "good_3.jpg", "sub/good_deep.JPEG"]
    assert prep.images.shape == (5, 3, 16, 16) and prep.images.is_contiguous()
    skipped = dict(prep.skipped)
    assert set(skipped) == {"empty.jpg", "sub/corrupt.png", "truncated.jpg"}
    assert "truncated" in skipped["truncated.jpg"]
    per_file = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped image")]
    assert len(per_file) == 3 and all("\n" not in line for line in per_file)
    assert any("truncated.jpg" in line for line in per_file)


def test_load_image_names_the_bad_file_in_one_line(folder_with_bad_files):
    with pytest.raises(SynthfaceError) as info:
        load_image(folder_with_bad_files / "truncated.jpg")
    message = str(info.value)
    assert "truncated.jpg" in message and "truncated" in message.split(":", 1)[1] and "\n" not in message
    with pytest.raises(SynthfaceError, match="not found"):
        load_image(folder_with_bad_files / "missing.jpg")
    assert load_image((folder_with_bad_files / "good_0.jpg").read_bytes()).size == (64, 64)


def test_all_unreadable_is_an_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(b"nope")
    with pytest.raises(SynthfaceError, match="none of the 1 images"):
        _prepare(folder, 16, tmp_path)


# --- source errors and options -------------------------------------------------------------------


def test_missing_source_and_empty_folder_and_bad_options(tmp_path):
    missing = tmp_path / "no_such_folder"
    expected = (
        f"data source '{missing}' not found: give an image folder, a saved dataset folder "
        f"or a Hugging Face dataset id"
    )
    with pytest.raises(SynthfaceError) as info:
        _prepare(missing, 16, tmp_path)
    assert str(info.value) == expected
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SynthfaceError, match="contains no images"):
        _prepare(empty, 16, tmp_path)
    Image.new("RGB", (8, 8)).save(empty / "one.png")
    for bad in ({"crop": "celebA"}, {"channels": 4}, {"fit": "stretch"}, {"max_images": 0}):
        with pytest.raises(SynthfaceError):
            _prepare(empty, 16, tmp_path, **bad)
    with pytest.raises(SynthfaceError, match="resolution"):
        _prepare(empty, 0, tmp_path)


# --- cache ---------------------------------------------------------------------------------------


def _red_folder(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "cached"
    folder.mkdir(exist_ok=True)
    for index in range(count):
        Image.new("RGB", (40, 30), (index * 20, 100, 200)).save(folder / f"{index:03d}.png")
    return folder


def test_cache_hit_is_identical_and_skips_decoding(tmp_path, monkeypatch):
    folder = _red_folder(tmp_path, 5)
    first = _prepare(folder, 24, tmp_path)
    assert not first.from_cache and first.cache_path is not None and first.cache_path.suffix == ".safetensors"

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit must not decode any image")

    monkeypatch.setattr(prepare_module, "_decode_all", no_decoding)
    second = _prepare(folder, 24, tmp_path)
    assert second.from_cache and second.cache_key == first.cache_key
    assert torch.equal(second.images, first.images) and second.names == first.names
    assert second.images.is_contiguous() and second.images.dtype == torch.uint8
    assert list(first.cache_path.parent.glob(".*.tmp")) == []  # atomic write left no temp file


def test_cache_is_invalidated_by_a_new_file_and_by_options(tmp_path):
    folder = _red_folder(tmp_path, 3)
    first = _prepare(folder, 16, tmp_path)
    assert _prepare(folder, 16, tmp_path, channels=1).cache_key != first.cache_key
    assert _prepare(folder, 16, tmp_path, crop="none").cache_key != first.cache_key
    assert _prepare(folder, 20, tmp_path).cache_key != first.cache_key
    Image.new("RGB", (40, 30), WHITE).save(folder / "new.png")
    grown = _prepare(folder, 16, tmp_path)
    assert not grown.from_cache and grown.cache_key != first.cache_key and len(grown) == 4


def test_cache_key_follows_content_not_modification_times(tmp_path, monkeypatch):
    """Shared data re-copied with new mtimes keeps its caches; edited pixels do not."""
    import os

    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    folder = _red_folder(tmp_path, 3)
    first = _prepare(folder, 16, tmp_path)
    victim = sorted(folder.iterdir())[0]
    os.utime(victim, ns=(1, 1))  # touched (or copied): same bytes
    assert _prepare(folder, 16, tmp_path).cache_key == first.cache_key
    data = bytearray(victim.read_bytes())
    data[-20] ^= 0xFF  # same size, different bytes
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(1, 1))  # even with the old mtime back
    index = list((tmp_path / "cache" / "fingerprints").glob("*.json"))
    assert len(index) == 1
    index[0].unlink()  # (the stat index would otherwise trust the unchanged size and mtime)
    assert _prepare(folder, 16, tmp_path).cache_key != first.cache_key


def test_damaged_cache_file_is_rebuilt(tmp_path):
    folder = _red_folder(tmp_path, 2)
    first = _prepare(folder, 16, tmp_path)
    first.cache_path.write_bytes(b"garbage")
    again = _prepare(folder, 16, tmp_path)
    assert not again.from_cache and torch.equal(again.images, first.images)


def test_cache_dir_comes_from_the_environment(tmp_path, monkeypatch):
    folder = _red_folder(tmp_path, 2)
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "env_root"))
    prep = prepare_images(folder, 16, progress=False)
    assert prep.cache_path == tmp_path / "env_root" / "prepared" / f"{prep.cache_key}.safetensors"
    assert prepare_images(folder, 16, progress=False, use_cache=False).cache_path is None


def test_parallel_decoding_matches_serial_and_max_images(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(140):  # more than two chunks of 64
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / f"{index:03d}.png")
    (folder / "070_bad.png").write_bytes(b"broken")
    serial = _prepare(folder, 8, tmp_path, num_workers=1, use_cache=False)
    parallel = _prepare(folder, 8, tmp_path, num_workers=2, use_cache=False)
    assert torch.equal(serial.images, parallel.images) and serial.names == parallel.names
    assert parallel.skipped == serial.skipped and [n for n, _ in serial.skipped] == ["070_bad.png"]
    first_ten = _prepare(folder, 8, tmp_path, max_images=10)
    assert first_ten.names == serial.names[:10] and torch.equal(first_ten.images, serial.images[:10])


def test_a_decoder_crash_costs_one_image_not_the_batch(tmp_path, monkeypatch):
    from synthface.data import workers

    if workers._context().get_start_method() != "fork":
        pytest.skip("simulating a worker crash needs fork (the patch must reach the workers)")
    folder = _red_folder(tmp_path, 150)
    real_prepare_one = workers.prepare_one

    def crashing_prepare_one(payload, name, options):
        if name == "077.png":
            os._exit(3)  # what a segfaulting decoder looks like from outside
        return real_prepare_one(payload, name, options)

    monkeypatch.setattr(workers, "prepare_one", crashing_prepare_one)
    prep = _prepare(folder, 8, tmp_path, num_workers=2, use_cache=False)
    assert len(prep) == 149 and "077.png" not in prep.names
    assert [name for name, _ in prep.skipped] == ["077.png"] and "crashed" in prep.skipped[0][1]


# --- Hugging Face dataset sources ----------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    datasets = pytest.importorskip("datasets")
    images = [Image.new("RGB", (30, 20), colour) for colour in (RED, GREEN, BLUE)]
    data = datasets.Dataset.from_dict({"picture": images, "label": [0, 1, 2]})
    data = data.cast_column("picture", datasets.Image())
    folder = tmp_path_factory.mktemp("hf") / "saved"
    data.save_to_disk(str(folder))
    return folder


def test_saved_hf_dataset_source(tiny_dataset, tmp_path):
    prep = _prepare(tiny_dataset, 10, tmp_path, image_column="picture")
    assert prep.images.shape == (3, 3, 10, 10) and prep.names == sorted(prep.names)
    for index, colour in enumerate((RED, GREEN, BLUE)):
        assert (_pixels(prep, index) == colour).all()
    again = _prepare(tiny_dataset, 10, tmp_path, image_column="picture")
    assert again.from_cache and again.cache_key == prep.cache_key


def test_dataset_dict_uses_the_train_split(tiny_dataset, tmp_path):
    datasets = pytest.importorskip("datasets")
    whole = datasets.load_from_disk(str(tiny_dataset))
    folder = tmp_path / "dict"
    datasets.DatasetDict({"test": whole, "train": whole.select([2])}).save_to_disk(str(folder))
    prep = _prepare(folder, 10, tmp_path, image_column="picture")
    assert len(prep) == 1 and (_pixels(prep) == BLUE).all()


def test_wrong_image_column_lists_the_available_columns(tiny_dataset, tmp_path):
    with pytest.raises(SynthfaceError) as info:
        _prepare(tiny_dataset, 10, tmp_path)  # default column "image" does not exist
    message = str(info.value)
    assert "'image'" in message and "picture" in message and "label" in message and "\n" not in message
    with pytest.raises(SynthfaceError, match="not images"):
        _prepare(tiny_dataset, 10, tmp_path, image_column="label")


def test_hub_layout_dataset_folder_via_load_dataset(tiny_dataset, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "synthface-cache"))  # holds the datasets cache too
    folder = tmp_path / "hub_layout"
    (folder / "data").mkdir(parents=True)
    shard = folder / "data" / "train-00000-of-00001.parquet"
    datasets.load_from_disk(str(tiny_dataset)).to_parquet(str(shard))
    prep = _prepare(folder, 10, tmp_path, image_column="picture")
    assert len(prep) == 3 and (_pixels(prep, 2) == BLUE).all()
    # Regenerated in place, with a card that declares its files as persona datasets do (datasets alone
    # then keys its cache by folder name and file pattern and serves the old rows): the new rows count.
    (folder / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n"
                                      "  - split: train\n    path: data/train-*\n---\n")
    assert len(_prepare(folder, 10, tmp_path, image_column="picture")) == 3
    datasets.load_from_disk(str(tiny_dataset)).select([0, 1]).to_parquet(str(shard))
    assert len(_prepare(folder, 10, tmp_path, image_column="picture")) == 2


# --- real photos ---------------------------------------------------------------------------------


def test_real_photos(few_face_files, faces_dir, tmp_path):
    folder = tmp_path / "real"
    for path in few_face_files:
        target = folder / path.relative_to(faces_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    prep = _prepare(folder, 32, tmp_path, num_workers=1)
    assert prep.images.shape == (len(few_face_files), 3, 32, 32) and prep.skipped == []
    assert prep.names == sorted(prep.names)
    assert all(name.startswith(("celeba/", "lfw/")) for name in prep.names)
    assert prep.images.float().std() > 30  # real pictures, not blank frames
    # `auto` chose each dataset's own face square: the same pixels as the explicit presets give.
    for name, row in zip(prep.names, prep.images, strict=True):
        preset = name.split("/", 1)[0]
        expected = crop_and_resize(load_image(folder / name), 32, preset)
        assert np.array_equal(row.permute(1, 2, 0).numpy(), np.asarray(expected)), name
    gray = _prepare(folder, 32, tmp_path, channels=1, max_images=4)
    assert gray.images.shape == (4, 1, 32, 32)


def test_bomb_limit_applies_inside_a_batch(tmp_path, monkeypatch):
    folder = _red_folder(tmp_path, 3)
    monkeypatch.setattr(decode_module, "MAX_IMAGE_PIXELS", 1000)  # 40x30 = 1200 pixels: "too large"
    prep_error = pytest.raises(SynthfaceError, match="none of the 3")
    with prep_error:
        _prepare(folder, 16, tmp_path, num_workers=1, use_cache=False)


def test_odd_files_are_reported_not_waited_on(tmp_path):
    """A FIFO named .png would block a reader forever and a symlink loop has no content: both are
    left out of a folder (with a warning) and refused by name when given directly."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "good.jpg").write_bytes(_noise_jpeg(1))
    os.mkfifo(folder / "pipe.png")
    (folder / "loop_a.png").symlink_to(folder / "loop_b.png")
    (folder / "loop_b.png").symlink_to(folder / "loop_a.png")
    assert [p.name for p in list_image_files(folder)] == ["good.jpg"]
    prep = _prepare(folder, 16, tmp_path)
    assert prep.names == ["good.jpg"]
    with pytest.raises(SynthfaceError, match="not a regular file"):
        load_image(folder / "pipe.png")


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    from synthface.data.decode import MAX_DECODED_PIXELS

    path = tmp_path / "large.jpg"
    Image.new("RGB", (6000, 4000), (120, 80, 60)).save(path, quality=80)
    image = load_image(path)
    assert image.width * image.height <= MAX_DECODED_PIXELS and image.size == (3000, 2000)
    header_only = tmp_path / "huge.png"
    header_only.write_bytes(_png_header_only(30_000, 30_000))
    with pytest.raises(SynthfaceError, match=r"too large \(900 Mpx > 89.5 Mpx limit\)"):
        load_image(header_only)
