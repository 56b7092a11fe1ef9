"""`lsr train`: a training config (TOML/YAML) with key=value overrides, run stage by stage."""

from __future__ import annotations

import json

import click

from lsr.cli.options import show_progress


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("overrides", nargs=-1)
@click.option("-o", "--out", type=click.Path(file_okay=False),
              show_default="the config's `out`", help="Output folder.")
def train(config: str, overrides: tuple[str, ...], out: str | None) -> None:
    """Mine negatives, score them with teachers, train and evaluate, as CONFIG says.

    OVERRIDES are `section.key=value` pairs (e.g. `train.max_steps=200 out=runs/try`) with TOML
    values. Every stage is cached under the config's `out` folder: a rerun after a kill, or with
    more steps, does only what is missing (training resumes from its last checkpoint).
    """
    from lsr.pipelines.distill import run_training
    from lsr.training.config import load_config

    settings = load_config(config, list(overrides))
    if out:
        settings.out = out
    results = run_training(settings, progress=show_progress())
    click.echo(json.dumps({k: v for k, v in results.items() if k != "trained"}, indent=2))
