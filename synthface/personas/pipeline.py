"""`generate_personas`: a generator in, a signed persona dataset in the Hub's layout out.

Per batch: latents -> synthesis -> uint8 -> memorisation guard -> how each face reads
(`synthface.personas.presentation`; names and pronouns follow it) -> (workers) watermark +
C2PA signing -> rows. The main process synthesises and reads batch b+1 while workers sign batch b.

Work is split into shards of consecutive personas (a seed range each). Under torchrun
(RANK / WORLD_SIZE) or with explicit rank and world size, rank r writes shards
r, r + W, r + 2W, ...; batches never straddle shards, so every shard's pixels are the
same whichever process made it. The card is written by whichever process finds every
shard finished, from the counts in the shards' footers: one process or many, same card.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthface.errors import SynthfaceError
from synthface.personas.persona import PersonaSpec
from synthface.personas.presentation import VALUES as PRESENTATION_VALUES

MANIFESTS_DIR = "manifests"


@dataclass
class GenerateOptions:
    """Everything `synthface generate-personas` takes (see the command's --help)."""

    out: Path
    model: str | None = None  # None: the bundled generator (synthface.pretrained)
    count: int | None = None
    psi: float = 0.7
    seed_start: int = 0
    variants: int = 1
    mix: str | None = None
    crossover: str = "middle"
    workers: int | None = None
    shard_size: int = 1000
    batch_size: int = 32
    resume: bool = False
    sidecar: bool = False
    guard: bool = True
    rank: int | None = None
    world_size: int | None = None
    cert: Path | None = None
    key: Path | None = None
    training_data: tuple[str, ...] = ("celeba", "lfw")
    pretty_name: str | None = None
    attributes: str | None = None  # None: the attribute model bundled with synthface
    balance: str | None = None  # "gender": an even split of faces read as female and male
    filter: str | None = None  # "gender=female|male|uncertain": only such faces
    ai_training: str = "notAllowed"  # c2pa.training-mining in every manifest, and the card's statement
    progress: bool = True


@dataclass
class GenerateReport:
    """What one process did."""

    out: Path
    rank: int
    world_size: int
    num_shards: int
    shards_written: list[int] = field(default_factory=list)
    shards_skipped: list[int] = field(default_factory=list)
    personas: int = 0
    images: int = 0
    flagged_images: int = 0
    dropped_personas: int = 0
    seconds: float = 0.0
    card_written: bool = False


def plan_personas(options: GenerateOptions) -> list[PersonaSpec]:
    """The personas of the run, in order: a seed range, or every (source, style) pair of --mix."""
    from synthface.generator.seeds import parse_seeds

    if options.mix:
        if options.count is not None:
            raise SynthfaceError("--mix lists the personas itself; leave out --count")
        if options.balance or options.filter:
            raise SynthfaceError("--balance and --filter choose seeds; they do not combine with --mix")
        if ":" not in options.mix:
            raise SynthfaceError(f"--mix {options.mix!r}: use SOURCE_SEEDS:STYLE_SEEDS, e.g. 0-9:100-102")
        sources, styles = (parse_seeds(part) for part in options.mix.split(":", 1))
        return [PersonaSpec(s, t, options.crossover) for s in sources for t in styles]
    if options.count is None or options.count < 1:
        raise SynthfaceError("pass --count N (at least 1), or --mix SOURCE_SEEDS:STYLE_SEEDS")
    if options.seed_start < 0:
        raise SynthfaceError(f"--seed-start must be 0 or more, got {options.seed_start}")
    return [PersonaSpec(seed) for seed in range(options.seed_start, options.seed_start + options.count)]


def _check_options(options: GenerateOptions) -> None:
    from synthface.provenance.manifest import check_ai_training

    check_ai_training(options.ai_training)
    if not 0.0 <= options.psi <= 2.0:
        raise SynthfaceError(f"--psi must be between 0 and 2, got {options.psi}")
    if not 1 <= options.variants <= 64:
        raise SynthfaceError(f"--variants must be between 1 and 64, got {options.variants}")
    if options.shard_size < 1:
        raise SynthfaceError(f"--shard-size must be at least 1, got {options.shard_size}")
    if options.batch_size < 1:
        raise SynthfaceError(f"--batch-size must be at least 1, got {options.batch_size}")
    if options.workers is not None and options.workers < 0:
        raise SynthfaceError(f"--workers must be 0 (sign in-process) or more, got {options.workers}")


def rank_and_world(options: GenerateOptions) -> tuple[int, int]:
    """Explicit options, else torchrun's RANK / WORLD_SIZE, else a single process."""
    try:
        world = options.world_size if options.world_size is not None else int(os.environ.get("WORLD_SIZE", 1))
        rank = options.rank if options.rank is not None else int(os.environ.get("RANK", 0))
    except ValueError:
        raise SynthfaceError("RANK and WORLD_SIZE must be integers (as torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise SynthfaceError(f"rank {rank} is not within a world of size {world}")
    return rank, world


def _generator_id(spec: str, model_dir: Path) -> str:
    """The Hub id a model came from, else its folder's name (the bundled one: synthface-faces64)."""
    from synthface.pretrained import BUNDLED

    return spec if spec != BUNDLED and not Path(spec).expanduser().exists() else model_dir.resolve().name


@dataclass
class _Run:
    """The resolved, immutable inputs of a run (shared by every shard)."""

    options: GenerateOptions
    model_dir: Path
    generator: Any
    generator_id: str
    sha256: str
    personas: list[PersonaSpec]
    num_shards: int
    plan_id: str
    guard: Any
    identity: Any
    attribute_model: Any
    attribute_sha256: str
    choice: Any = None
    readings: dict[str, Any] = field(default_factory=dict)  # persona key -> Perception, from choosing seeds

    def shard_personas(self, index: int) -> list[PersonaSpec]:
        size = self.options.shard_size
        return self.personas[index * size : (index + 1) * size]


def _plan_id(options: GenerateOptions, sha256: str, personas: list[PersonaSpec], guard: Any,
             attribute_sha256: str) -> str:
    """Hash of everything that decides the shards' content, so --resume never mixes two runs."""
    plan = {
        "checkpoint": sha256,
        "psi": options.psi,
        "variants": options.variants,
        "shard_size": options.shard_size,
        "batch_size": options.batch_size,
        "personas": hashlib.sha256("|".join(p.key for p in personas).encode()).hexdigest(),
        "guard": None if guard is None else [guard.threshold, guard.info.get("feature"), list(guard.bank.shape)],
        "attributes": attribute_sha256,  # names and pronouns follow its readings
        "ai_training": options.ai_training,  # every manifest states it
    }
    return hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]


def _prepare_run(options: GenerateOptions) -> _Run:
    from synthface.attributes.model import load_attribute_model
    from synthface.generator.sampling import load_generator
    from synthface.guard import GUARD_FILE, load_guard
    from synthface.personas.latents import check_crossover
    from synthface.personas.persona import checkpoint_sha256
    from synthface.personas.presentation import choose_seeds, parse_choice
    from synthface.pretrained import resolve_model_folder
    from synthface.provenance import load_signing_identity

    _check_options(options)
    if options.model is None:
        from synthface.pretrained import default_generator_spec

        options.model = default_generator_spec()
    personas = plan_personas(options)
    model_dir = resolve_model_folder(options.model, "generator")
    generator = load_generator(model_dir)
    from synthface.provenance.watermark import MIN_SIDE

    if generator.img_resolution < MIN_SIDE:
        raise SynthfaceError(
            f"model {options.model} makes {generator.img_resolution} px images; the watermark needs at least "
            f"{MIN_SIDE} px, so persona datasets need a {MIN_SIDE} px or larger generator"
        )
    if options.mix:
        check_crossover(generator, options.crossover)
    guard = load_guard(model_dir) if options.guard else None
    if options.guard and guard is None:
        raise SynthfaceError(
            f"model {options.model} has no memorisation guard ({GUARD_FILE}); build it with "
            f"`synthface build-guard --model {options.model} --data TRAINING_DATA`, or pass --no-guard"
        )
    choice = parse_choice(options.balance, options.filter)
    attribute_dir = resolve_model_folder(options.attributes, "attributes")
    attribute_model = load_attribute_model(attribute_dir)
    identity = load_signing_identity(options.cert, options.key, create_if_missing=True)
    sha256 = checkpoint_sha256(model_dir)
    readings = {}
    if choice is not None:
        seeds, by_seed = choose_seeds(generator, attribute_model, choice, len(personas), options.seed_start,
                                      options.psi, options.batch_size, options.progress)
        personas = [PersonaSpec(seed) for seed in seeds]
        readings = {PersonaSpec(seed).key: reading for seed, reading in by_seed.items()}
    attribute_sha256 = checkpoint_sha256(attribute_dir)
    num_shards = -(-len(personas) // options.shard_size)
    return _Run(options, model_dir, generator, _generator_id(options.model, model_dir), sha256, personas,
                num_shards, _plan_id(options, sha256, personas, guard, attribute_sha256), guard, identity,
                attribute_model, attribute_sha256, choice, readings)


def _existing_shards(run: _Run) -> dict[int, dict]:
    """Finished shards of this run (any rank's); refuses files of another run."""
    from synthface.personas.writer import DATA_DIR, read_shard_stats, shard_relpath

    out = Path(run.options.out)
    expected = {out / shard_relpath(i, run.num_shards): i for i in range(run.num_shards)}
    found: dict[int, dict] = {}
    for path in sorted((out / DATA_DIR).glob("*.parquet")) if (out / DATA_DIR).is_dir() else []:
        if path not in expected:
            raise SynthfaceError(f"{out} holds {path.name}, which is not part of this run; use a new --out")
        stats = read_shard_stats(path)
        if stats is None or stats.get("plan") != run.plan_id:
            raise SynthfaceError(
                f"{path} was written by a different run (other model, seeds or options); use a new --out"
            )
        found[expected[path]] = stats
    return found


def _batches(personas: list[PersonaSpec], variants: int, batch_size: int) -> Iterator[list[PersonaSpec]]:
    per_batch = max(1, batch_size // variants)
    for start in range(0, len(personas), per_batch):
        yield personas[start : start + per_batch]


@dataclass
class _PendingBatch:
    specs: list[Any]
    pixels: np.ndarray
    ws: np.ndarray
    distances: np.ndarray | None
    keep: list[int]
    flagged: int
    dropped_personas: int
    futures: list[Any]
    readings: dict[str, Any]  # persona key -> Perception


def _synthesise_batch(run: _Run, personas: list[PersonaSpec]) -> tuple[list, np.ndarray, np.ndarray]:
    from synthface.generator.images import to_uint8
    from synthface.personas.latents import ImageSpec, image_ws, synthesise

    specs = [ImageSpec(p, v) for p in personas for v in range(run.options.variants)]
    ws = image_ws(run.generator, specs, run.options.psi)
    images = to_uint8(synthesise(run.generator, ws, specs))
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return specs, images, ws.to(torch.float16).numpy()


def _guard_batch(run: _Run, specs: list, pixels: np.ndarray) -> tuple[np.ndarray | None, list[int], int, int]:
    """Distances, kept image indices, flagged images, dropped personas (a persona goes whole)."""
    if run.guard is None:
        return None, list(range(len(specs))), 0, 0
    check = run.guard.check(torch.from_numpy(pixels).permute(0, 3, 1, 2))
    bad = {specs[i].persona.key for i in np.flatnonzero(check.flagged)}
    keep = [i for i, spec in enumerate(specs) if spec.persona.key not in bad]
    return check.distances, keep, int(check.flagged.sum()), len(bad)


def _read_batch(run: _Run, specs: list, pixels: np.ndarray, keep: list[int]) -> dict[str, Any]:
    """How each kept persona's face (its variant 0) reads; seeds already read when choosing are reused."""
    from synthface.personas.presentation import read_personas

    firsts = [i for i in keep if specs[i].variant == 0 and specs[i].persona.key not in run.readings]
    readings = {key: run.readings[key] for key in {specs[i].persona.key for i in keep} if key in run.readings}
    if firsts:
        for i, reading in zip(firsts, read_personas(run.attribute_model, pixels[firsts]), strict=True):
            readings[specs[i].persona.key] = reading
    return readings


def _sign_jobs(run: _Run, specs: list, pixels: np.ndarray, keep: list[int]) -> list:
    from synthface.personas.persona import image_id, persona_id
    from synthface.personas.signer import SignJob
    from synthface.provenance import Payload, generation_assertion, image_id_from

    jobs = []
    for i in keep:
        spec = specs[i]
        pid = persona_id(run.sha256, spec.persona)
        iid = image_id(pid, spec.variant)
        mix = None
        if spec.persona.mixed:
            mix = {"parents": [spec.persona.seed, spec.persona.style_seed], "crossover": spec.persona.crossover}
        assertion = generation_assertion(
            generator_id=run.generator_id, checkpoint_sha256=run.sha256, seed=spec.persona.seed,
            psi=run.options.psi, persona_id=pid, style_mix=mix, image_id=iid, variant=spec.variant,
            noise_seed=spec.noise_seed, fine_style_seed=spec.fine_seed,
        )
        payload = Payload(image_id_from(iid), run.identity.key_id)
        jobs.append(SignJob(pixels[i], assertion, payload.hex, f"{iid}.png", run.options.ai_training))
    return jobs


def _rows_of(run: _Run, batch: _PendingBatch, rows: dict[str, list], version: str) -> None:
    from synthface.io_utils import write_bytes_atomic
    from synthface.personas.persona import image_id, persona_id, persona_profile
    from synthface.provenance import Payload, image_id_from

    signed = [item for future in batch.futures for item in future.result()]
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    manifests = Path(run.options.out) / MANIFESTS_DIR
    for i, result in zip(batch.keep, signed, strict=True):
        spec = batch.specs[i]
        pid = persona_id(run.sha256, spec.persona)
        iid = image_id(pid, spec.variant)
        reading = batch.readings[spec.persona.key]
        profile = persona_profile(pid, reading.presentation)
        if run.options.sidecar:
            write_bytes_atomic(manifests / f"{iid}.c2pa", result.manifest_store)
        values = {
            "image": {"bytes": result.data, "path": None},
            "image_id": iid,
            "persona_id": pid,
            "variant": spec.variant,
            "name": profile.name,
            "pronouns": profile.pronouns,
            "profile": profile.profile,
            "perceived_gender": reading.presentation,
            "p_female": reading.p_female,
            "seed": spec.persona.seed,
            "psi": run.options.psi,
            "w": batch.ws[i],
            "style_parents": [spec.persona.seed, spec.persona.style_seed] if spec.persona.mixed else [],
            "crossover": spec.persona.crossover if spec.persona.mixed else None,
            "noise_seed": spec.noise_seed,
            "generator_id": run.generator_id,
            "checkpoint_sha256": run.sha256,
            "synthface_version": version,
            "created_at": created,
            "watermark_payload": Payload(image_id_from(iid), run.identity.key_id).hex,
            "c2pa_manifest_label": result.manifest_label,
            "guard_distance": None if batch.distances is None else float(batch.distances[i]),
        }
        for key, value in values.items():
            rows[key].append(value)


def _write_one_shard(run: _Run, index: int, pool: Any, bar: Any) -> dict:
    import synthface
    from synthface.personas.writer import dataset_features, shard_relpath, write_shard

    G = run.generator
    features = dataset_features(G.num_ws, G.w_dim)
    rows: dict[str, list] = {name: [] for name in features}
    personas = run.shard_personas(index)
    stats = {"plan": run.plan_id, "shard": index, "num_shards": run.num_shards, "planned_personas": len(personas),
             "personas": 0, "images": 0, "flagged_images": 0, "dropped_personas": 0, "dropped_images": 0,
             "perceived_gender": dict.fromkeys(PRESENTATION_VALUES, 0), "no_face": 0}
    pending: _PendingBatch | None = None
    for batch_personas in _batches(personas, run.options.variants, run.options.batch_size):
        specs, pixels, ws = _synthesise_batch(run, batch_personas)
        distances, keep, flagged, dropped = _guard_batch(run, specs, pixels)
        futures = pool.submit(_sign_jobs(run, specs, pixels, keep)) if keep else []
        current = _PendingBatch(specs, pixels, ws, distances, keep, flagged, dropped, futures,
                                _read_batch(run, specs, pixels, keep))
        if pending is not None:
            _finish(run, pending, rows, stats, synthface.__version__, bar)
        pending = current
    if pending is not None:
        _finish(run, pending, rows, stats, synthface.__version__, bar)
    write_shard(Path(run.options.out) / shard_relpath(index, run.num_shards), rows, features, stats)
    return stats


def _finish(run: _Run, batch: _PendingBatch, rows: dict, stats: dict, version: str, bar: Any) -> None:
    _rows_of(run, batch, rows, version)
    personas = len(batch.specs) // run.options.variants
    stats["personas"] += personas - batch.dropped_personas
    stats["images"] += len(batch.keep)
    stats["flagged_images"] += batch.flagged
    stats["dropped_personas"] += batch.dropped_personas
    stats["dropped_images"] += len(batch.specs) - len(batch.keep)
    for reading in batch.readings.values():
        stats["perceived_gender"][reading.presentation] += 1
        stats["no_face"] += not reading.face_found
    bar.update(personas)
    if stats["dropped_personas"]:
        bar.set_postfix(dropped=stats["dropped_personas"], refresh=False)


def generate_personas(options: GenerateOptions) -> GenerateReport:
    """Generate (this rank's share of) a persona dataset; write the card when all shards exist."""
    import time

    from tqdm.auto import tqdm

    from synthface.personas.signer import SigningPool, single_threaded_blas

    began = time.perf_counter()
    run = _prepare_run(options)
    rank, world = rank_and_world(options)
    out = Path(options.out)
    done = _existing_shards(run)
    mine = [i for i in range(run.num_shards) if i % world == rank]
    finished_mine = [i for i in mine if i in done]
    if finished_mine and not options.resume:
        raise SynthfaceError(
            f"{out} already holds {len(finished_mine)} shard(s) of this run; pass --resume to finish it"
        )
    todo = [i for i in mine if i not in done]
    if todo:
        from synthface.io_utils import write_text_atomic
        from synthface.personas.card import render_unfinished_card

        model = f"--model {options.model} " if options.model else ""
        command = f"synthface generate-personas {model}" + _command_args(options).replace("--out DIR", f"--out {out}")
        write_text_atomic(out / "README.md", render_unfinished_card(len(done), run.num_shards, command))
    report = GenerateReport(out, rank, world, run.num_shards, shards_skipped=[i for i in mine if i in done])
    workers = options.workers if options.workers is not None else (os.cpu_count() or 1)
    total = sum(len(run.shard_personas(i)) for i in mine)
    initial = total - sum(len(run.shard_personas(i)) for i in todo)
    desc = "personas" if world == 1 else f"personas (rank {rank}/{world})"
    with single_threaded_blas(), SigningPool(run.identity, workers if todo else 0) as pool, tqdm(
        total=total, initial=initial, unit="persona", desc=desc, disable=not options.progress, dynamic_ncols=True
    ) as bar:
        for index in todo:
            stats = _write_one_shard(run, index, pool, bar)
            report.shards_written.append(index)
            report.personas += stats["personas"]
            report.images += stats["images"]
            report.flagged_images += stats["flagged_images"]
            report.dropped_personas += stats["dropped_personas"]
    report.card_written = write_card_if_complete(run)
    report.seconds = time.perf_counter() - began
    return report


def _guard_summary(run: _Run, totals: dict[str, int]) -> dict[str, Any] | None:
    if run.guard is None:
        return None
    info = run.guard.info
    return {
        "feature": info.get("feature", "unknown"),
        "num_images": info.get("num_images", len(run.guard.bank)),
        "pca_dim": info.get("pca_dim", run.guard.bank.shape[1]),
        "threshold": run.guard.threshold,
        "quantile": info.get("quantile", 0.0),
        "flagged_images": totals["flagged_images"],
        "dropped_personas": totals["dropped_personas"],
        "dropped_images": totals["dropped_images"],
    }


def _command_args(options: GenerateOptions) -> str:
    parts = [f"--mix {options.mix} --crossover {options.crossover}" if options.mix else
             f"--count {options.count} --seed-start {options.seed_start}"]
    parts.append(f"--psi {options.psi:g} --variants {options.variants} --shard-size {options.shard_size}")
    if options.batch_size != GenerateOptions.batch_size:
        parts.append(f"--batch-size {options.batch_size}")
    if not options.guard:
        parts.append("--no-guard")
    if options.balance:
        parts.append(f"--balance {options.balance}")
    if options.filter:
        parts.append(f"--filter {options.filter}")
    if options.ai_training != GenerateOptions.ai_training:
        parts.append(f"--ai-training {options.ai_training}")
    return " ".join(parts + ["--out DIR"])


def _model_arg(run: _Run) -> str:
    """What `--model` the card's reproduce command needs: "bundled" for the generator that ships with
    synthface (its folder differs per installation), else the spec this run was given."""
    from synthface.pretrained import DEFAULT_GENERATOR_DIR

    if run.model_dir.resolve() == DEFAULT_GENERATOR_DIR.resolve():
        return "bundled"
    return str(run.options.model)


def card_facts(run: _Run, totals: dict[str, int]) -> dict[str, Any]:
    """The numbers and settings the dataset card shows."""
    import synthface
    from synthface.personas.persona import faker_version

    options = run.options
    if options.mix:
        source = f"every pair of source and style seeds in --mix {options.mix}"
    elif run.choice is not None:
        seeds = [spec.seed for spec in run.personas]
        source = f"{len(seeds)} seeds between {min(seeds)} and {max(seeds)}"
    else:
        source = f"seeds {options.seed_start} to {options.seed_start + len(run.personas) - 1}"
    return {
        "pretty_name": options.pretty_name or f"synthface personas ({run.generator_id})",
        "num_images": totals["images"],
        "num_personas": totals["personas"],
        "synthface_version": synthface.__version__,
        "generator_id": run.generator_id,
        "model_arg": _model_arg(run),
        "checkpoint_sha256": run.sha256,
        "resolution": run.generator.img_resolution,
        "persona_source": source,
        "psi": f"{options.psi:g}",
        "variants": options.variants,
        "crossover": options.crossover if options.mix else None,
        "faker_version": faker_version(),
        "signer": run.identity.subject,
        "command_args": _command_args(options),
        "num_ws": run.generator.num_ws,
        "w_dim": run.generator.w_dim,
        "sidecar": options.sidecar,
        "presentation": _presentation_facts(run, totals),
        "ai_training": options.ai_training,
    }


def _presentation_facts(run: _Run, totals: dict[str, int]) -> dict[str, Any]:
    """Who is in the dataset as the attribute model reads the faces, and how well it reads them."""
    from synthface.pretrained import resolve_model_folder

    personas = max(1, totals["personas"])
    rows = [{"value": value, "personas": totals[f"perceived_{value}"],
             "share": f"{100 * totals[f'perceived_{value}'] / personas:.1f}%"} for value in PRESENTATION_VALUES]
    facts: dict[str, Any] = {"rows": rows, "no_face": totals["no_face"],
                             "choice": run.choice.describe() if run.choice is not None else None,
                             "model_sha256": run.attribute_sha256}
    evaluation = resolve_model_folder(run.options.attributes, "attributes") / "evaluation.json"
    if evaluation.is_file():
        summary = json.loads(evaluation.read_text(encoding="utf-8"))
        test = summary.get("test", {})
        facts["test"] = {key: test.get(key) for key in ("faces", "people")}
        facts["test"].update({name: {k: (f"{100 * v:.1f}%" if isinstance(v, float) else v)
                                     for k, v in test.get(name, {}).items()}
                              for name in ("clean", "detail40") if name in test})
        facts["hand_check"] = summary.get("hand_check")
    return facts


def write_card_if_complete(run: _Run) -> bool:
    """Render README.md once every shard of the run exists (any rank may be the one)."""
    from synthface.io_utils import write_text_atomic
    from synthface.personas.card import LICENSE_FILE, SIGNER_CA_FILE, dataset_license_text, render_dataset_card
    from synthface.personas.writer import dataset_features, dataset_info_yaml, read_shard_stats, shard_relpath

    out = Path(run.options.out)
    totals = {"personas": 0, "images": 0, "flagged_images": 0, "dropped_personas": 0, "dropped_images": 0,
              "no_face": 0, **{f"perceived_{value}": 0 for value in PRESENTATION_VALUES}}
    shards = [out / shard_relpath(index, run.num_shards) for index in range(run.num_shards)]
    for shard in shards:
        stats = read_shard_stats(shard)
        if stats is None:
            return False
        for key in totals:
            totals[key] += int(stats.get(key, 0))
        for value, number in stats.get("perceived_gender", {}).items():
            totals[f"perceived_{value}"] += int(number)
    features = dataset_features(run.generator.num_ws, run.generator.w_dim)
    card = render_dataset_card(card_facts(run, totals), guard=_guard_summary(run, totals),
                               training_data=run.options.training_data,
                               dataset_info=dataset_info_yaml(shards, features, totals["images"]))
    write_text_atomic(out / SIGNER_CA_FILE, run.identity.issuer_pem.decode("ascii"))
    write_text_atomic(out / LICENSE_FILE, dataset_license_text(run.options.training_data))
    write_text_atomic(out / "README.md", card)
    return True


def report_json(report: GenerateReport) -> str:
    data = asdict(report)
    data["out"] = str(report.out)
    return json.dumps(data, sort_keys=True)
