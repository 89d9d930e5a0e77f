"""The trainer: it learns, resumes bit-exactly, runs under torch.distributed, survives bad files."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from synthface import checkpoints as ckpt
from synthface.errors import SynthfaceError
from synthface.generator.images import uint8_to_float
from synthface.training.config import TrainConfig
from synthface.training.trainer import Trainer, train


def make_blob_folder(folder: Path, count: int = 16, size: int = 24) -> Path:
    """Simple 'faces': a bright disc on a dark background, jittered in place and colour."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    for i in range(count):
        cy, cx = size / 2 + rng.uniform(-2, 2, size=2)
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < (size * 0.3) ** 2
        image = np.zeros((size, size, 3), np.uint8)
        image[disc] = rng.integers(150, 255, size=3)
        Image.fromarray(image).save(folder / f"img_{i:02d}.png")
    return folder


def tiny_config(data: Path, out: Path, **overrides) -> TrainConfig:
    settings = dict(
        data=str(data), out=str(out), resolution=16, batch=8, kimg=0.048, seed=3,
        z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32,
        snapshot_kimg=0.024, log_every=1, grid_seeds=4, progress=False, device="cpu",
        r1_interval=2, pl_interval=2, ada_interval=2, ada_kimg=0.1, milestone_kimg=0.016,
    )
    settings.update(overrides)
    return TrainConfig(**settings)


def read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def blobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    return make_blob_folder(tmp_path / "blobs")


def test_resume_reproduces_the_uninterrupted_run_step_for_step(blobs: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    straight = tmp_path / "straight"
    train(tiny_config(blobs, straight))
    interrupted = tmp_path / "interrupted"
    train(tiny_config(blobs, interrupted, kimg=0.024))  # stops after 3 steps, as if killed
    assert len(ckpt.list_checkpoints(interrupted)) == 1
    train(tiny_config(blobs, interrupted), resume=True)

    a, b = read_metrics(straight), read_metrics(interrupted)
    assert [row["step"] for row in a] == [1, 2, 3, 4, 5, 6]
    keys = ("loss_g", "loss_d", "d_real", "d_fake", "r1", "pl", "aug_p")
    assert [[row[k] for k in keys] for row in a] == [[row[k] for k in keys] for row in b]
    # The regularisers and augmentation really ran in these steps.
    assert any(row["r1"] is not None for row in a) and any(row["pl"] is not None for row in a)
    state_a = ckpt.load_state(ckpt.latest_checkpoint(straight))
    state_b = ckpt.load_state(ckpt.latest_checkpoint(interrupted))
    for name, tensor in state_a["objective"]["G_ema"].items():
        assert torch.equal(tensor, state_b["objective"]["G_ema"][name]), name
    assert (straight / "samples" / "latest.png").is_file()
    assert (straight / "loss.png").is_file()
    assert (straight / "generator" / "model.safetensors").is_file()
    # Milestones (every 0.016 kimg here) keep one generator per multiple, named by its kimg.
    assert sorted(p.name for p in (straight / "generators").iterdir()) == ["kimg-000000.024", "kimg-000000.048"]


def test_resume_of_a_copied_run_trains_the_copy_and_leaves_the_original_alone(blobs: Path, tmp_path: Path) -> None:
    import shutil

    torch.set_num_threads(1)
    original = tmp_path / "original"
    train(tiny_config(blobs, original, kimg=0.024))
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    before = sorted(str(p.relative_to(original)) for p in original.rglob("*"))
    train(tiny_config(blobs, copy, kimg=0.048), resume=True)
    assert sorted(str(p.relative_to(original)) for p in original.rglob("*")) == before  # untouched
    assert ckpt.latest_checkpoint(copy).name == "checkpoint-000000048.safetensors"
    assert TrainConfig.load(copy / "train_config.json").out == str(copy)
    moved = tmp_path / "moved"
    shutil.move(str(original), moved)  # the folder it was started in no longer exists
    train(tiny_config(blobs, moved, kimg=0.048), resume=True)
    assert not original.exists() and ckpt.latest_checkpoint(moved).name == "checkpoint-000000048.safetensors"


def test_resume_falls_back_to_the_newest_readable_checkpoint(blobs: Path, tmp_path: Path, caplog) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    train(tiny_config(blobs, run, kimg=0.048, snapshot_kimg=0.016))
    kept = ckpt.list_checkpoints(run)
    assert [p.name for p in kept][-2:] == ["checkpoint-000000032.safetensors", "checkpoint-000000048.safetensors"]
    kept[-1].write_bytes(kept[-1].read_bytes()[:300])  # a kill mid-copy: the newest is truncated
    resumed = train(tiny_config(blobs, run, kimg=0.064, snapshot_kimg=0.016), resume=True)
    assert resumed.images_seen == 64 and "resuming from an older checkpoint" in caplog.text
    for path in ckpt.list_checkpoints(run):
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(SynthfaceError, match="none of the .* checkpoints"):
        train(tiny_config(blobs, run, kimg=0.08, snapshot_kimg=0.016), resume=True)


def test_resume_drops_metrics_logged_after_the_checkpoint(blobs: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_config(blobs, run, kimg=0.024))
    with open(run / "metrics.jsonl", "a") as handle:  # a step logged just before a kill
        handle.write(json.dumps({"step": 4, "kimg": 0.032, "loss_g": 0.0}) + "\n")
    train(tiny_config(blobs, run, kimg=0.032), resume=True)
    steps = [row["step"] for row in read_metrics(run)]
    assert steps == [1, 2, 3, 4]


def test_resume_may_switch_memory_format_but_keeps_the_maths(blobs: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_config(blobs, run, kimg=0.024, channels_last=False))
    train(tiny_config(blobs, run, kimg=0.032, channels_last=True, g_lr=0.5, milestone_kimg=None), resume=True)
    saved = TrainConfig.load(run / "train_config.json")
    assert saved.channels_last is True and saved.kimg == 0.032 and saved.g_lr == 0.0025
    assert saved.milestone_kimg == 0.016  # not given on resume: kept
    assert [row["step"] for row in read_metrics(run)] == [1, 2, 3, 4]


def test_refuses_to_overwrite_or_resume_nothing(blobs: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    with pytest.raises(SynthfaceError, match="no checkpoint"):
        train(tiny_config(blobs, run), resume=True)
    train(tiny_config(blobs, run, kimg=0.008))
    with pytest.raises(SynthfaceError, match="--resume"):
        train(tiny_config(blobs, run))


def test_a_short_run_learns(blobs: Path, tmp_path: Path) -> None:
    """D separates reals from fakes and G's loss responds: the loop is not a no-op."""
    torch.set_num_threads(1)
    config = tiny_config(blobs, tmp_path / "learn", kimg=0.4, snapshot_kimg=1.0, augment="none",
                         pl_weight=0.0, log_every=1)
    trainer = Trainer(config)
    trainer.load_data()
    G0 = {k: v.clone() for k, v in trainer.G.state_dict().items()}
    trainer.run()
    rows = read_metrics(tmp_path / "learn")
    early, late = rows[:5], rows[-10:]
    assert np.mean([r["d_real"] - r["d_fake"] for r in late]) > 0.5
    assert abs(np.mean([r["loss_g"] for r in late]) - np.mean([r["loss_g"] for r in early])) > 0.05
    changed = [k for k, v in trainer.G.state_dict().items() if not torch.equal(v, G0[k])]
    assert any("synthesis" in k for k in changed) and any("mapping" in k for k in changed)
    # D scores held-out reals above fresh fakes.
    with torch.no_grad():
        reals = uint8_to_float(trainer.images)
        fakes = trainer.G(torch.randn(16, trainer.G.z_dim), noise_mode="random")
        assert trainer.D(reals).mean() > trainer.D(fakes).mean()


def test_a_corrupt_image_is_skipped_and_training_goes_on(blobs: Path, tmp_path: Path, capsys) -> None:
    (blobs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (blobs / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    trainer = Trainer(tiny_config(blobs, tmp_path / "run", kimg=0.008))
    trainer.load_data()
    assert trainer.data_info["skipped"] == 2
    assert trainer.data_info["images"] == 16
    trainer.run()
    assert (tmp_path / "run" / "generator" / "config.json").is_file()


def test_checkpoint_state_round_trips_without_pickle(tmp_path: Path) -> None:
    state = {"a": torch.arange(3), "nested": {"b": [1, 2.5, None, "x"], 4: (torch.ones(2), True)}}
    ckpt.save_state(state, tmp_path / "s.safetensors")
    back = ckpt.load_state(tmp_path / "s.safetensors")
    assert torch.equal(back["a"], state["a"]) and back["nested"]["b"] == [1, 2.5, None, "x"]
    assert torch.equal(back["nested"][4][0], torch.ones(2)) and back["nested"][4][1] is True
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(SynthfaceError, match="unreadable"):
        ckpt.load_state(tmp_path / "bad.safetensors")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ddp_worker(rank: int, world_size: int, port: int, data: str, out: str, cache: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "SYNTHFACE_CACHE": cache})
    torch.set_num_threads(1)
    trainer = Trainer(tiny_config(Path(data), Path(out), kimg=0.032))
    trainer.run()
    from safetensors.torch import save_file

    for name, module in (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema)):
        save_file({k: v.contiguous() for k, v in module.state_dict().items()}, f"{out}/rank{rank}-{name}.safetensors")
    torch.distributed.destroy_process_group()


def test_two_process_gloo_training_keeps_ranks_identical(blobs: Path, tmp_path: Path) -> None:
    import torch.multiprocessing as mp
    from safetensors.torch import load_file

    out = tmp_path / "ddp"
    out.mkdir()
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(blobs), str(out), str(tmp_path / "cache")), nprocs=2)
    for name in ("G", "D", "G_ema"):
        rank0, rank1 = load_file(out / f"rank0-{name}.safetensors"), load_file(out / f"rank1-{name}.safetensors")
        for key, tensor in rank0.items():
            assert torch.equal(tensor, rank1[key]), f"{name}.{key} differs between ranks"
    # Rank 0 alone wrote the run's files; 4 steps of the global batch of 8 were taken.
    assert [row["step"] for row in read_metrics(out)] == [1, 2, 3, 4]
    initial = {k: v for k, v in load_file(out / "rank0-G.safetensors").items()}
    assert initial  # weights exist and were compared above


def test_fid_is_logged_during_training(blobs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--fid-every-kimg` appends FID/KID rows (Inception replaced by a cheap fixed projection)."""
    from synthface.metrics import inception

    class CheapFeatures(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(3 * 8 * 8, inception.FEATURE_DIM)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.proj(torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1)))

    torch.manual_seed(0)
    network = CheapFeatures()
    monkeypatch.setattr(inception, "_load_network", lambda device: network)
    run = tmp_path / "fid"
    train(tiny_config(blobs, run, kimg=0.032, fid_every_kimg=0.016, fid_samples=12))
    fid_rows = [row for row in read_metrics(run) if "fid" in row]
    assert [row["step"] for row in fid_rows] == [2, 4]
    assert all(row["fid"] > 0 and row["fid_samples"] == 12 for row in fid_rows)


def test_memory_format_defaults_to_channels_last_on_cpu_only() -> None:
    """channels_last speeds the CPU step up (benchmarks/train_speed.py); GPUs keep NCHW unless asked."""
    assert TrainConfig(data="x", out="y").resolve_defaults(on_gpu=False).channels_last is True
    assert TrainConfig(data="x", out="y").resolve_defaults(on_gpu=True).channels_last is False
    assert TrainConfig(data="x", out="y", channels_last=False).resolve_defaults(on_gpu=False).channels_last is False


def test_precision_defaults_follow_the_hardware_and_bad_values_are_refused(monkeypatch) -> None:
    """bf16 where it is native (GPUs; CPUs with AVX512-BF16/AMX), fp32 where it would be emulated."""
    from synthface.training import precision

    assert TrainConfig(data="x", out="y").resolve_defaults(on_gpu=True).precision == "bf16"
    monkeypatch.setattr(precision.torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert TrainConfig(data="x", out="y").resolve_defaults(on_gpu=False).precision == "fp32"
    monkeypatch.setattr(precision.torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert TrainConfig(data="x", out="y").resolve_defaults(on_gpu=False).precision == "bf16"
    assert TrainConfig(data="x", out="y", precision="fp32").resolve_defaults(on_gpu=True).precision == "fp32"
    with pytest.raises(SynthfaceError, match="fp16"):
        TrainConfig(data="x", out="y", precision="fp16").resolve_defaults(on_gpu=False)


def test_a_bf16_step_follows_the_fp32_step(blobs: Path, tmp_path: Path) -> None:
    """Same seed, same batch: bf16 autocast gives nearly the fp32 gradients (much nearer than another
    batch's), and keeps the weights, optimiser and mapping network in fp32."""
    from synthface.training.losses import GANObjective

    def gradients(precision: str, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        config = tiny_config(blobs, tmp_path / precision, precision=precision).resolve_defaults(on_gpu=False)
        torch.manual_seed(0)
        trainer = Trainer(config)
        objective: GANObjective = trainer.objective
        objective.opt_D.step = objective.opt_G.step = lambda: None  # keep the weights: compare one step
        torch.manual_seed(seed)
        reals = torch.rand(8, 3, 16, 16) * 2 - 1
        stats = objective.step(reals, step_index=1)  # r1_interval = pl_interval = 2: both regularisers run
        assert stats.r1 is not None and stats.pl is not None and np.isfinite(stats.loss_g)
        assert all(p.dtype == torch.float32 for p in [*trainer.G.parameters(), *trainer.D.parameters()])
        assert objective._sample_ws(2).dtype == torch.float32
        grad = lambda net: torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])  # noqa: E731
        return grad(trainer.D), grad(trainer.G)

    cosine = lambda a, b: float(torch.nn.functional.cosine_similarity(a, b, dim=0))  # noqa: E731
    d32, g32 = gradients("fp32", seed=1)
    d16, g16 = gradients("bf16", seed=1)
    d_other, g_other = gradients("fp32", seed=2)
    assert not torch.equal(d32, d16)  # bf16 really ran
    assert cosine(d32, d16) > 0.99 and cosine(g32, g16) > 0.95
    assert cosine(d32, d16) > cosine(d32, d_other) and cosine(g32, g16) > cosine(g32, g_other)


def test_resume_keeps_the_precision_a_run_started_with_unless_asked(blobs: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_config(blobs, run, kimg=0.008, precision="fp32"))
    raw = json.loads((run / "train_config.json").read_text())
    del raw["precision"]  # a run saved before the setting existed: it ran in fp32 on the CPU
    (run / "train_config.json").write_text(json.dumps(raw))
    train(tiny_config(blobs, run, kimg=0.016), resume=True)
    assert TrainConfig.load(run / "train_config.json").precision == "fp32"
    train(tiny_config(blobs, run, kimg=0.024, precision="bf16"), resume=True)  # rounding may change, asked
    assert TrainConfig.load(run / "train_config.json").precision == "bf16"
    assert [row["step"] for row in read_metrics(run)] == [1, 2, 3]


def test_max_minutes_stops_with_a_checkpoint_that_resumes_exactly(blobs: Path, tmp_path: Path) -> None:
    """A time budget ends the run after the step that crosses it, checkpointed and exported, and a
    resume goes on as if it had never stopped (a rented machine's hour, a lent GPU's minutes)."""
    torch.set_num_threads(1)
    straight = tmp_path / "straight"
    train(tiny_config(blobs, straight, kimg=0.032))
    budgeted = tmp_path / "budgeted"
    result = train(tiny_config(blobs, budgeted, kimg=0.032, max_minutes=1e-9))
    assert result.out_of_time and result.images_seen == 8  # one step, then the budget is spent
    assert (budgeted / "generator" / "model.safetensors").is_file()
    assert len(ckpt.list_checkpoints(budgeted)) == 1
    resumed = train(tiny_config(blobs, budgeted, kimg=0.032), resume=True)  # no budget now
    assert not resumed.out_of_time and resumed.images_seen == 32
    state_a = ckpt.load_state(ckpt.latest_checkpoint(straight))
    state_b = ckpt.load_state(ckpt.latest_checkpoint(budgeted))
    for name, tensor in state_a["objective"]["G_ema"].items():
        assert torch.equal(tensor, state_b["objective"]["G_ema"][name]), name


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_warm_start_carries_generator_and_discriminator_over(blobs: Path, tmp_path: Path) -> None:
    """A run's exported generator folder holds its discriminator, so it can start a new run that
    fine-tunes both, with the model's architecture (widths not given are taken from it)."""
    from safetensors.torch import load_file

    torch.set_num_threads(1)
    first = tmp_path / "first"
    train(tiny_config(blobs, first, kimg=0.024))
    exported = first / "generator"
    assert (exported / "discriminator" / "config.json").is_file()
    assert "--init-from" in (exported / "discriminator" / "README.md").read_text()
    G_saved = load_file(str(exported / "model.safetensors"))
    D_saved = load_file(str(exported / "discriminator" / "model.safetensors"))

    config = tiny_config(blobs, tmp_path / "second", init_from=str(first), kimg=0.032, z_dim=None, w_dim=None,
                         channel_base=None, channel_max=None, mapping_layers=None, resolution=None)
    trainer = Trainer(config)
    assert config.resolution is None and config.d_warmup_kimg is None  # the caller's config is never changed
    used = trainer.config  # the run's own: the model's architecture adopted, defaults filled
    assert (used.resolution, used.z_dim, used.channel_max, used.mapping_layers) == (16, 32, 32, 2)
    assert used.d_warmup_kimg == 0.0  # D came with the model
    assert _same(_weights(trainer.G), G_saved) and _same(_weights(trainer.G_ema), G_saved)
    assert _same(_weights(trainer.D), D_saved)
    trainer.run()
    assert not _same(_weights(trainer.G), G_saved) and not _same(_weights(trainer.D), D_saved)
    saved = json.loads((tmp_path / "second" / "train_config.json").read_text())
    assert saved["init_from"] == str(first) and saved["d_warmup_kimg"] == 0.0


def test_a_warm_start_from_a_trained_model_keeps_the_full_ema_half_life(blobs: Path, tmp_path: Path) -> None:
    """The EMA ramp is for a G from random weights; a G that has trained on 100 kimg already must not
    have its average reset to the raw weights in the continuation's first steps."""
    torch.set_num_threads(1)
    first = tmp_path / "first"
    train(tiny_config(blobs, first, kimg=0.024))
    model = first / "generator"
    (model / "metrics.json").write_text(json.dumps({"kimg": 100.0}))
    G_saved = load_generator_weights(model)

    trainer = Trainer(tiny_config(blobs, tmp_path / "second", init_from=str(model), kimg=0.032))
    trainer.run()  # 4 steps; half-life 2.5 kimg: the average moves by under 1% of G's step
    G_now, ema_now = trainer.G.state_dict(), trainer.G_ema.state_dict()
    G_moved = sum(float((G_now[name] - start).abs().sum()) for name, start in G_saved.items())
    ema_moved = sum(float((ema_now[name] - start).abs().sum()) for name, start in G_saved.items())
    assert G_moved > 0 and 0 < ema_moved < 0.02 * G_moved


def test_a_warm_start_without_discriminator_trains_d_alone_first(blobs: Path, tmp_path: Path, caplog) -> None:
    """A fresh D's gradients must not reach G before D knows anything: G stays exactly as loaded
    during the warm-up, then trains; the path-length mean starts at the loaded G's own."""
    import shutil

    torch.set_num_threads(1)
    first = tmp_path / "first"
    train(tiny_config(blobs, first, kimg=0.024))
    model = first / "generator"
    shutil.rmtree(model / "discriminator")
    (model / "metrics.json").write_text(json.dumps({"kimg": 0.024}))
    G_saved = _weights(Trainer(tiny_config(blobs, tmp_path / "probe", init_from=str(model))).G)
    assert "has no discriminator/" in caplog.text  # the user hears what a fresh D costs

    run = tmp_path / "warm"
    trainer = Trainer(tiny_config(blobs, run, init_from=str(model), d_warmup_kimg=0.016, kimg=0.016))
    D_random = _weights(trainer.D)
    trainer.run()  # the warm-up only: two D steps
    assert _same(_weights(trainer.G), G_saved) and _same(_weights(trainer.G_ema), G_saved)
    assert not _same(_weights(trainer.D), D_random)
    assert float(trainer.objective.pl_mean) > 0
    saved = json.loads((run / "train_config.json").read_text())
    assert saved["init_kimg"] == 0.024 and saved["d_warmup_kimg"] == 0.016
    # The export says how far its G has trained: the model's kimg, and none of the warm-up's.
    assert json.loads((run / "generator" / "metrics.json").read_text()) == {"kimg": 0.024}

    resumed = train(tiny_config(blobs, run, kimg=0.04), resume=True)  # past the warm-up: G trains
    assert resumed.images_seen == 40
    G_after = load_generator_weights(run / "generator")
    assert not _same(G_after, G_saved)
    assert json.loads((run / "generator" / "metrics.json").read_text()) == {"kimg": 0.048}


def load_generator_weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_a_warm_start_keeps_the_models_architecture(blobs: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    train(tiny_config(blobs, first, kimg=0.008))
    with pytest.raises(SynthfaceError, match="--w-dim 64 differs from the --init-from model's 32"):
        Trainer(tiny_config(blobs, tmp_path / "second", init_from=str(first), w_dim=64))
    shutil_target = first / "generator" / "discriminator" / "model.safetensors"
    shutil_target.write_bytes(b"not safetensors")
    with pytest.raises(SynthfaceError, match="cannot load the discriminator"):
        Trainer(tiny_config(blobs, tmp_path / "third", init_from=str(first)))


def test_a_warm_start_ramps_g_learning_rate_up_after_the_warm_up(blobs: Path, tmp_path: Path) -> None:
    """A young D cannot follow a G that moves at full speed (it is fooled in a few steps and stays at
    chance), so G's rate rises from 0 over --g-lr-rampup-kimg after the D-only warm-up."""
    import shutil

    torch.set_num_threads(1)
    first = tmp_path / "first"
    train(tiny_config(blobs, first, kimg=0.008))
    shutil.rmtree(first / "generator" / "discriminator")
    config = tiny_config(blobs, tmp_path / "ramp", init_from=str(first), d_warmup_kimg=0.016,
                         g_lr_rampup_kimg=0.032, kimg=0.056)
    trainer = Trainer(config)
    rates = []
    original = trainer.objective.scale_g_lr
    trainer.objective.scale_g_lr = lambda scale: (rates.append(scale), original(scale))
    trainer.run()
    assert rates == [0.25, 0.5, 0.75, 1.0, 1.0]  # batch 8 after 16 D-only images, over 32 images
    assert trainer.objective.opt_G.param_groups[0]["lr"] == trainer.objective.g_lr
    defaults = Trainer(tiny_config(blobs, tmp_path / "defaults", init_from=str(first))).config
    assert (defaults.d_warmup_kimg, defaults.g_lr_rampup_kimg) == (100.0, 100.0)


def test_regularisers_show_in_metrics_at_the_default_log_interval(blobs: Path, tmp_path: Path) -> None:
    run = tmp_path / "logged"
    train(tiny_config(blobs, run, kimg=0.64, r1_interval=16, pl_interval=4, log_every=10, snapshot_kimg=1.0))
    rows = read_metrics(run)
    assert [row["step"] for row in rows if row["r1"] is not None] == [80]
    assert [row["step"] for row in rows if row["pl"] is not None] == [20, 40, 60, 80]


def test_train_command_refuses_an_unknown_precision(blobs: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthface.cli import app

    out = tmp_path / "r"
    result = CliRunner().invoke(app, ["train", "--data", str(blobs), "--out", str(out), "--precision", "fp8"])
    assert result.exit_code != 0
    assert "--precision 'fp8': use fp32 or bf16" in result.output
    assert not out.exists()  # refused before anything was written


def test_train_command_says_how_to_go_on_after_max_minutes(blobs: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthface.cli import app

    run = tmp_path / "cli-run"
    args = ["train", "--data", str(blobs), "--out", str(run), "--resolution", "16", "--batch", "8",
            "--kimg", "0.032", "--channel-base", "256", "--channel-max", "32", "--z-dim", "32", "--w-dim", "32",
            "--mapping-layers", "2", "--max-minutes", "1e-9"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert f"--max-minutes 1e-09 reached; the run is checkpointed: `synthface train --out {run} --resume" in out.output
    assert "trained to 0.0 kimg" in out.output and (run / "generator" / "model.safetensors").is_file()
    refused = CliRunner().invoke(app, [*args[:-1], "-5"])
    assert refused.exit_code != 0 and "--max-minutes -5: give a positive number of minutes" in refused.output


def test_the_train_command_builds_the_config_once_from_the_configs_own_defaults(tmp_path, monkeypatch) -> None:
    """Options left out are the dataclass's defaults (defaults live in one place), options given reach
    their fields, and the trainer fills the rest in a new config without touching the caller's."""
    import dataclasses

    from typer.testing import CliRunner

    import synthface.training.trainer as trainer_module
    from synthface.cli import app

    seen = []
    monkeypatch.setattr(trainer_module, "train", lambda config, resume=False: seen.append(config) or 1 / 0)
    CliRunner().invoke(app, ["train", "--data", "faces/", "--out", str(tmp_path / "run")])
    CliRunner().invoke(app, ["train", "--data", "faces/", "--out", str(tmp_path / "run"), "--kimg", "7",
                             "--style-mixing", "0.5", "--grayscale", "--no-mirror"])
    plain, given = seen
    assert plain == TrainConfig(data="faces/", out=str(tmp_path / "run"))
    assert dataclasses.replace(given, kimg=plain.kimg, style_mixing_prob=plain.style_mixing_prob, img_channels=None,
                               mirror=True) == plain
    assert (given.kimg, given.style_mixing_prob, given.img_channels, given.mirror) == (7.0, 0.5, 1, False)
    resolved = plain.resolve_defaults(on_gpu=False)
    assert plain.resolution is None and resolved.resolution == 64 and resolved is not plain
