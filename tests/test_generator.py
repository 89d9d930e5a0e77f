"""The generator's contract: shapes, truncation, style mixing, noise, save/load."""

from __future__ import annotations

import stat

import pytest
import torch

from synthface.errors import SynthfaceError
from synthface.generator import Discriminator, Generator
from synthface.generator.sampling import mix_styles, mixing_grid, seed_grid, style_band
from synthface.generator.seeds import parse_seeds, z_from_seeds
from synthface.io_utils import DEFAULT_FILE_MODE

TINY = {"z_dim": 32, "w_dim": 32, "mapping_layers": 2, "channel_base": 256, "channel_max": 32}


def tiny_generator(resolution: int = 32, **overrides) -> Generator:
    torch.manual_seed(0)
    return Generator(resolution=resolution, **{**TINY, **overrides}).eval()


@pytest.mark.parametrize("resolution", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes(resolution: int, channels: int) -> None:
    G = tiny_generator(resolution, img_channels=channels)
    D = Discriminator(resolution=resolution, img_channels=channels, channel_base=256, channel_max=32)
    z = torch.randn(4, G.z_dim)
    ws = G.mapping(z)
    assert ws.shape == (4, G.num_ws, G.w_dim)
    assert G.num_ws == 2 * (resolution.bit_length() - 1) - 2
    images = G.synthesis(ws)
    assert images.shape == (4, channels, resolution, resolution)
    assert torch.isfinite(images).all()
    assert D(images).shape == (4,)


def test_bad_resolution_and_noise_mode_are_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        Generator(resolution=48, **TINY)
    G = tiny_generator()
    with pytest.raises(ValueError, match="noise_mode"):
        G(torch.randn(1, G.z_dim), noise_mode="loud")


def test_psi_zero_gives_the_average_face_for_every_seed() -> None:
    G = tiny_generator()
    with torch.no_grad():
        G.mapping_net.w_avg.copy_(torch.randn(G.w_dim))
        images = G(z_from_seeds(range(5), G.z_dim), psi=0.0, noise_mode="const")
        reference = G.synthesis(G.mapping_net.w_avg.expand(1, G.num_ws, -1), noise_mode="const")
    for image in images:
        torch.testing.assert_close(image, reference[0], rtol=0, atol=1e-5)


def test_truncation_cutoff_leaves_later_layers_alone() -> None:
    G = tiny_generator()
    z = torch.randn(3, G.z_dim)
    full = G.mapping(z)
    cut = G.mapping(z, psi=0.5, cutoff=4)
    torch.testing.assert_close(cut[:, 4:], full[:, 4:])
    assert not torch.allclose(cut[:, :4], full[:, :4])


def test_style_mixing_takes_source_before_crossover_and_donor_after() -> None:
    G = tiny_generator(64)
    ws_a = G.mapping(torch.randn(2, G.z_dim))
    ws_b = G.mapping(torch.randn(2, G.z_dim))
    crossover = 5
    mixed = mix_styles(ws_a, ws_b, style_band(str(crossover), G.num_ws, G.img_resolution))
    torch.testing.assert_close(mixed[:, :crossover], ws_a[:, :crossover])
    torch.testing.assert_close(mixed[:, crossover:], ws_b[:, crossover:])
    # The named bands tile all layers: coarse, then middle, then fine.
    bands = [style_band(name, G.num_ws, G.img_resolution) for name in ("coarse", "middle", "fine")]
    assert bands[0][0] == 0 and bands[-1][1] == G.num_ws
    assert all(bands[i][1] == bands[i + 1][0] for i in range(2))
    # Synthesis really uses the donor's late styles: images differ from both parents.
    with torch.no_grad():
        out_a, out_b, out_mix = (G.synthesis(w, noise_mode="const") for w in (ws_a, ws_b, mixed))
    assert not torch.allclose(out_mix, out_a) and not torch.allclose(out_mix, out_b)
    # Styles before the crossover only matter through the source: changing the donor's
    # early layers leaves the mixed image unchanged.
    ws_b2 = ws_b.clone()
    ws_b2[:, :crossover] += 3.0
    mixed2 = mix_styles(ws_a, ws_b2, (crossover, G.num_ws))
    with torch.no_grad():
        torch.testing.assert_close(G.synthesis(mixed2, noise_mode="const"), out_mix)


def test_noise_modes() -> None:
    G = tiny_generator()
    with torch.no_grad():
        for block in G.synthesis_net.blocks:  # give noise a visible effect
            for layer in (block.conv0, block.conv1):
                if layer is not None:
                    layer.noise.strength.fill_(0.5)
        z = torch.randn(2, G.z_dim)
        torch.testing.assert_close(G(z, noise_mode="const"), G(z, noise_mode="const"), rtol=0, atol=0)
        assert not torch.allclose(G(z, noise_mode="random"), G(z, noise_mode="random"))
        torch.testing.assert_close(G(z, noise_mode="none"), G(z, noise_mode="none"), rtol=0, atol=0)


def test_fused_and_activation_modulation_agree() -> None:
    G = tiny_generator()
    ws = G.mapping(torch.randn(3, G.z_dim))
    with torch.no_grad():
        torch.testing.assert_close(G.synthesis(ws, fused=True), G.synthesis(ws, fused=False), rtol=1e-4, atol=1e-4)


def test_save_and_load_round_trip(tmp_path) -> None:
    G = tiny_generator(img_channels=1)
    with torch.no_grad():
        G.mapping_net.w_avg.normal_()
    G.save_pretrained(tmp_path / "g")
    assert (tmp_path / "g" / "config.json").is_file() and (tmp_path / "g" / "model.safetensors").is_file()
    loaded = Generator.from_pretrained(str(tmp_path / "g")).eval()
    assert loaded.img_channels == 1 and loaded.num_ws == G.num_ws
    z = z_from_seeds([1, 2, 3], G.z_dim)
    with torch.no_grad():
        torch.testing.assert_close(loaded(z, psi=0.7), G(z, psi=0.7), rtol=0, atol=0)


def test_weights_missing_tensors_are_refused_not_left_random(tmp_path) -> None:
    from safetensors.torch import load_file, save_file

    from synthface.generator.sampling import load_generator

    Generator(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32
              ).save_pretrained(str(tmp_path / "gen"))
    weights = tmp_path / "gen" / "model.safetensors"
    tensors = load_file(str(weights))
    save_file({k: v for k, v in tensors.items() if "synthesis" not in k}, str(weights))
    with pytest.raises(SynthfaceError, match="cannot load generator"):
        load_generator(tmp_path / "gen")
    save_file({**tensors, "extra.weight": torch.zeros(2)}, str(weights))
    with pytest.raises(SynthfaceError, match="cannot load generator"):
        load_generator(tmp_path / "gen")


def test_saved_weights_get_the_usual_file_mode_not_0600(tmp_path) -> None:
    """safetensors creates its files 0600; a model saved on a shared server must be readable like config.json."""
    tiny_generator().save_pretrained(tmp_path / "g")
    weights = stat.S_IMODE((tmp_path / "g" / "model.safetensors").stat().st_mode)
    assert weights == DEFAULT_FILE_MODE == stat.S_IMODE((tmp_path / "g" / "config.json").stat().st_mode)


def test_commands_load_generators_channels_last_with_the_same_images(tmp_path) -> None:
    """load_generator (every command's loader) switches to channels_last on the CPU for speed: same faces."""
    from synthface.generator.sampling import load_generator

    G = tiny_generator()
    G.save_pretrained(tmp_path / "g")
    fast = load_generator(tmp_path / "g")
    assert any(p.dim() == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
               for p in fast.parameters())
    z = z_from_seeds([4, 5], G.z_dim)
    with torch.no_grad():
        torch.testing.assert_close(fast(z, psi=0.7, noise_mode="const"), G.eval()(z, psi=0.7, noise_mode="const"),
                                   rtol=0, atol=1e-4)


def test_seeds_are_stable_and_parsed() -> None:
    torch.testing.assert_close(z_from_seeds([7, 8], 16)[1], z_from_seeds([8], 16)[0])
    assert parse_seeds("0-3,10") == [0, 1, 2, 3, 10]
    for bad in ("a-b", "5-1", ""):
        with pytest.raises(SynthfaceError):
            parse_seeds(bad)


def test_grids_have_the_expected_layout() -> None:
    G = tiny_generator()
    grid = seed_grid(G, [0, 1, 2, 3], columns=2)
    assert grid.size == (2 * 32 + 3 * 2, 2 * 32 + 3 * 2)
    mix = mixing_grid(G, [0, 1], [5, 6, 7], style_band("coarse", G.num_ws, G.img_resolution))
    assert mix.size == (4 * 32 + 5 * 2, 3 * 32 + 4 * 2)


@pytest.mark.parametrize("damage", ["list", "not-json", "huge-mapping", "string-width", "truncated-weights"])
def test_a_damaged_or_hostile_model_folder_is_refused_in_one_line(tmp_path, damage) -> None:
    """config.json decides how much a model costs to build, so it is bounded before anything is
    allocated (`mapping_layers: 1e7` once took 11 GB); a damaged file is an error line, not a traceback."""
    import json

    from synthface.generator.sampling import load_generator

    folder = tmp_path / "gen"
    Generator(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32
              ).save_pretrained(str(folder))
    config = json.loads((folder / "config.json").read_text())
    if damage == "list":
        (folder / "config.json").write_text("[1, 2]")
    elif damage == "not-json":
        (folder / "config.json").write_text("{resolution: 16")
    elif damage == "huge-mapping":
        (folder / "config.json").write_text(json.dumps({**config, "mapping_layers": 10_000_000}))
    elif damage == "string-width":
        (folder / "config.json").write_text(json.dumps({**config, "channel_max": "32"}))
    else:
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(SynthfaceError, match="cannot load generator") as info:
        load_generator(folder)
    assert "\n" not in str(info.value)
