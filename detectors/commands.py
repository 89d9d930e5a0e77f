"""CLI: `synthface detect`, `synthface train-detector`, `synthface eval-detector`, `synthface make-fakes`.

Only typer and the error helpers are imported here; `detect` imports provenance code
when it runs and the torch model only when an image needs the classifier, so one
signed image is checked without ever importing torch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from synthface.errors import SynthfaceError, user_errors

FAIL_ON = ("synthetic",)


@user_errors
def detect(
    paths: list[str] = typer.Argument(..., help="Image files, folders (recursive) or glob patterns."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per image (JSON lines)."),
    model: str = typer.Option(None, "--model", help="Detector folder or Hub id USER/NAME "
                              "(default: $SYNTHFACE_DETECTOR or the packaged detector)."),
    threshold: float = typer.Option(None, "--threshold", help="Classifier probability from which a face is "
                                    "'likely synthetic' (default: the model's, set for 1% false positives)."),
    store: Path = typer.Option(None, "--store", help="Folder of NAME.c2pa manifests, found via watermark."),
    fail_on: str = typer.Option(None, "--fail-on", help="Exit 1 if any image is judged synthetic."),
    trust: list[Path] = typer.Option(None, "--trust-anchor", "--trust", help="Extra trusted root CA (PEM), e.g. a "
                                     "dataset's signer-ca.pem; repeatable."),
    key_dir: Path = typer.Option(None, "--key-dir", help="Key folder whose CA is trusted by default."),
    no_classifier: bool = typer.Option(False, "--no-classifier", help="Provenance checks only."),
) -> None:
    """Is this face synthetic? C2PA manifest, watermark, then the classifier, with reasons.

    Exit status: 0 done; 1 with --fail-on synthetic when an image was judged synthetic;
    2 when some input could not be read (the others are still reported).
    """
    from tqdm.auto import tqdm

    from detectors.detect import DetectPipeline
    from detectors.output import BatchTally, json_line, table_header, table_row
    from synthface.provenance.inputs import expand_inputs
    from synthface.provenance.keys import trust_anchors_pem

    if fail_on is not None and fail_on not in FAIL_ON:
        raise SynthfaceError(f"--fail-on {fail_on!r}: the only choice is 'synthetic'")
    pipeline = DetectPipeline(model=model, threshold=threshold, store=store,
                              trust_anchors=trust_anchors_pem(list(trust or []), key_dir),
                              use_classifier=not no_classifier)
    items = expand_inputs(paths)
    if not as_json:
        typer.echo(table_header())
    tally = BatchTally()
    show_bar = len(items) >= 10 and sys.stderr.isatty()
    with tqdm(total=len(items), unit="img", disable=not show_bar, file=sys.stderr, dynamic_ncols=True) as bar:
        for item in items:
            detection = pipeline.detect(item)
            tally.add(detection)
            line = json_line(detection) if as_json else table_row(detection)
            tqdm.write(line, file=sys.stdout)
            if detection.error and as_json:
                tqdm.write(f"error: {detection.path}: {detection.error}", file=sys.stderr)
            bar.update(1)
    if not as_json:
        typer.echo(tally.summary_line())
    else:
        print(tally.summary_line(), file=sys.stderr)
    if pipeline.model_spec is None and not no_classifier and tally.any_unclassified:
        print("warning: no detector model available, so images without provenance were not classified; "
              "pass --model DIR_OR_HUB_ID", file=sys.stderr)
    if tally.any_error:
        raise typer.Exit(2)
    if fail_on == "synthetic" and tally.any_synthetic:
        raise typer.Exit(1)


def _numbers(option: str, text: str | None) -> list[float] | None:
    try:
        return [float(v) for v in text.split(",")] if text else None
    except ValueError:
        raise SynthfaceError(f"{option} {text!r}: give numbers like 2,1,1") from None


@user_errors
def train_detector(
    fake: list[str] = typer.Option(..., "--fake", help="Generated faces: folder or dataset; repeatable "
                                   "(one per generator, named by its folder)."),
    real: list[str] = typer.Option(..., "--real", help="Real photos: folder or dataset; repeatable (one per "
                                   "collection, e.g. ../shared/data/faces/lfw)."),
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoints/, detector/, summary JSON."),
    fake_weights: str = typer.Option(None, help="Shares of the --fake sources in each batch, in their order, "
                                     "e.g. 2,1,1 (default: equal)."),
    resume: bool = typer.Option(False, "--resume", help="Continue --out from its newest checkpoint."),
    steps: int = typer.Option(4000, help="Optimiser steps."),
    batch: int = typer.Option(64, help="Faces per step (half real, half generated)."),
    working_size: int = typer.Option(64, help="Side of the canonical face view the detector scores, px."),
    lr: float = typer.Option(1e-3, help="Adam learning rate."),
    lr_ramp_down: float = typer.Option(0.3, help="Fraction of the steps, at the end, over which the learning "
                                       "rate falls linearly to zero."),
    target_fpr: float = typer.Option(0.01, help="Share of held-out real photos allowed to reach 'likely "
                                     "synthetic' (sets the threshold)."),
    checkpoint_every: int = typer.Option(250, help="Checkpoint every N steps."),
    max_images: int = typer.Option(None, help="Use only the first N images of each source."),
    seed: int = typer.Option(0),
    workers: int = typer.Option(None, help="Face-finding processes (default: all CPUs)."),
    init_from: str = typer.Option(None, help="Start from a trained detector's weights (folder, run folder, Hub "
                                  "id or 'bundled')."),
) -> None:
    """Train the canonical-face CNN; calibrate, set thresholds and familiarity on held-out people."""
    from detectors.training import TrainDetectorConfig
    from detectors.training import train_detector as run

    config = TrainDetectorConfig(real=list(real), fake=list(fake), out=str(out),
                                 fake_weights=_numbers("--fake-weights", fake_weights),
                                 working_size=working_size, batch=batch, steps=steps, lr=lr,
                                 lr_ramp_down=lr_ramp_down, target_fpr=target_fpr,
                                 checkpoint_every=checkpoint_every, max_images=max_images, seed=seed,
                                 num_workers=workers, init_from=init_from)
    target = run(config, resume=resume)
    typer.echo(f"detector saved to {target}; validation figures in {out / 'training_summary.json'}")


@user_errors
def eval_detector(
    model: str = typer.Option(..., "--model", help="Detector folder, run folder, Hub id or 'bundled'."),
    fake: list[str] = typer.Option(..., "--fake", help="Generated faces (folder or dataset); repeatable."),
    real: list[str] = typer.Option(..., "--real", help="Real photos (folder or dataset); repeatable."),
    out: Path = typer.Option(..., "--out", help="Report folder: evaluation.json and evaluation.md."),
    condition: list[str] = typer.Option(None, "--condition", help="Edit applied before scoring; repeatable "
                                        "(default: clean, jpeg75, resize0.5, resize2)."),
    limit: int = typer.Option(None, help="At most N images per source (a fixed random subset)."),
    save_to_model: bool = typer.Option(False, "--save-to-model", help="Also write the report into the model "
                                       "folder, where `synthface card` and `publish` put it in the model card."),
) -> None:
    """Per source and condition: AP, ROC-AUC, TPR at 1% FPR, and the shares flagged, uncertain and missed.

    Sources the detector trained on are measured on their held-out test split, others on all their
    images (reported as unseen).
    """
    from detectors.chain import CONDITIONS
    from detectors.data import eval_source
    from detectors.evaluation import evaluate_detector, summary_table, write_report
    from detectors.model import load_detector
    from synthface.pretrained import resolve_model_folder

    conditions = tuple(condition or CONDITIONS)
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        raise SynthfaceError(f"unknown --condition {unknown[0]!r}; choose from {', '.join(CONDITIONS)}")
    if limit is not None and limit < 10:
        raise SynthfaceError("--limit must be at least 10 images")
    detector = load_detector(model)
    seen = {label for labels in detector.training_sources.values() for label in labels}
    sources = [eval_source(s, True, seen, limit) for s in real] + [eval_source(s, False, seen, limit) for s in fake]
    report = evaluate_detector(detector, detector.heads(), sources, conditions)
    report["model"] = model
    written = write_report(report, out)
    if save_to_model:
        folder = resolve_model_folder(model, "detector")
        if model != "bundled" and not Path(model).expanduser().exists():
            raise SynthfaceError(f"--save-to-model needs a local detector folder, not {model}")
        written += write_report(report, folder)
    typer.echo(summary_table(report))
    typer.echo(f"wrote {', '.join(str(p) for p in written)}")


@user_errors
def make_fakes(
    generator: str = typer.Option(..., "--model", "--generator", help="Generator folder, training run or Hub "
                                  "id; or another generator from PyPI: pypi:random-face, pypi:gan-face-generate."),
    out: Path = typer.Option(..., "--out", help="Folder for the PNGs."),
    count: int = typer.Option(1000, help="How many images."),
    psi: str = typer.Option("0.5,0.7,0.85,1.0", help="Truncation values, cycled over the seeds."),
    mixing: float = typer.Option(0.5, help="Fraction of images with style mixing (synthface generators)."),
    seed_start: int = typer.Option(0, help="First seed (use disjoint ranges for train and test folders)."),
    size: int = typer.Option(None, help="Resize the faces of a pypi: generator to this many px (Lanczos); "
                             "random-face's native 1024 px PNGs take about 1.5 MB each."),
) -> None:
    """Generated faces for the detector's synthetic class (PNG, one per seed).

    Each file is C2PA-signed as AI-generated but carries no watermark: a detector trained on marked
    faces would learn the mark and miss the same faces without it.
    """
    from detectors.fakes import generate_fakes
    from detectors.others import generate_other_fakes, is_other_generator

    try:
        psis = tuple(float(v) for v in psi.split(",") if v.strip())
    except ValueError:
        raise SynthfaceError(f"--psi {psi!r}: give numbers like 0.5,0.7,1.0") from None
    if size is not None and not 16 <= size <= 4096:
        raise SynthfaceError(f"--size {size}: choose 16 to 4096 px")
    if is_other_generator(generator):
        written = generate_other_fakes(generator, out, count, psis=psis, seed_start=seed_start, size=size)
    elif size is not None:
        raise SynthfaceError("--size applies to pypi: generators; synthface generators write their native size")
    else:
        written = generate_fakes(generator, out, count, psis=psis, mixing=mixing, seed_start=seed_start)
    typer.echo(f"wrote {len(written)} images to {out}")


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
    app.command("train-detector")(train_detector)
    app.command("eval-detector")(eval_detector)
    app.command("make-fakes")(make_fakes)
