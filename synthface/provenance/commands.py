"""`synthface keys init` and `synthface verify`.

Imports of c2pa, scipy and cryptography stay inside the command bodies so that
`synthface --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from synthface.errors import user_errors

keys_app = typer.Typer(help="Signing keys for C2PA manifests.", no_args_is_help=True)


@keys_app.command("init")
@user_errors
def keys_init(
    directory: Path = typer.Option(None, "--dir", help="Where to write the keys (default: config dir)."),
    force: bool = typer.Option(False, "--force", help="Replace existing keys."),
) -> None:
    """Create a local root CA and an Ed25519 signing certificate (private keys mode 0600)."""
    from synthface.provenance.keys import init_keys

    paths = init_keys(directory, force=force)
    typer.echo(f"wrote signing chain {paths.signer_chain} and key {paths.signer_key} (mode 0600)")
    typer.echo(f"trust anchor (share this with verifiers): {paths.ca_cert}")


@user_errors
def verify(
    paths: list[str] = typer.Argument(..., help="Images (PNG or JPEG), folders, globs or dataset parquet shards."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per image."),
    store: Path = typer.Option(None, "--store", help="Folder of NAME.c2pa sidecars for stripped images."),
    trust: list[Path] = typer.Option(None, "--trust-anchor", "--trust", help="Extra trusted root CA (PEM), e.g. a "
                                     "dataset's signer-ca.pem; repeatable."),
    key_dir: Path = typer.Option(None, "--key-dir", help="Key folder whose CA is trusted by default."),
) -> None:
    """Check C2PA manifest, signature, trust, data hash and watermark of each image.

    Exit status: 0 if every image verified, 1 if some did not (or a dataset lacks shards), 2 if some
    could not be read.
    """
    from tqdm import tqdm

    from synthface.errors import SynthfaceError
    from synthface.provenance.inputs import ShardReader, expand_inputs, unfinished_shard_sets
    from synthface.provenance.keys import trust_anchors_pem
    from synthface.provenance.store import ManifestStore
    from synthface.provenance.verify import VerificationReport, verify_image

    anchors = trust_anchors_pem(list(trust or []), key_dir)
    manifest_store = ManifestStore(store) if store is not None else None
    items, shards = expand_inputs(paths), ShardReader()
    errors = failures = 0
    for folder, found, total in unfinished_shard_sets(items):
        failures += 1
        print(f"error: {folder}: incomplete: {found} of {total} shards (its run was stopped; finish it with "
              "`synthface generate-personas ... --resume`)", file=sys.stderr)
    for item in tqdm(items, unit="img", disable=len(items) < 20 or as_json, file=sys.stderr):
        try:
            report = verify_image(item.source(shards), anchors, manifest_store, name=item.label)
        except SynthfaceError as exc:
            report = VerificationReport(source=item.label, error=str(exc))
        if report.error:
            errors += 1
            print(f"error: {item.label}: {report.error}", file=sys.stderr)
        elif not report.ok:
            failures += 1
        if as_json:
            typer.echo(json.dumps(report.to_json(), sort_keys=True))
        elif not report.error:
            typer.echo(report.summary_line())
    if manifest_store is not None and manifest_store.unreadable:
        print(f"warning: {len(manifest_store.unreadable)} unreadable manifests in {store}", file=sys.stderr)
    if errors or failures:
        raise typer.Exit(2 if errors else 1)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("verify")(verify)
