"""`tonecraft sfx "PROMPT" -o out.wav`: sound effects with AudioGen (`generate --model audiogen-medium`).

    tonecraft sfx "a dog barking in the distance" -d 4 -o dog.wav
    tonecraft sfx "footsteps on gravel" -n 4 --seed 7 -o steps.wav     # steps_0.wav ... steps_3.wav

Same options as `tonecraft generate`; --model defaults to audiogen-medium (a local AudioGen directory works
too). Default duration 5 s; up to 10 s in one window, longer ones use 2-s sliding-window extension.
"""
from __future__ import annotations

import argparse

from . import generate as cli_generate

DEFAULT_MODEL = "audiogen-medium"


def add_arguments(p: argparse.ArgumentParser) -> None:
    cli_generate.add_arguments(p, default_model=DEFAULT_MODEL)


def run(args: argparse.Namespace) -> int:
    return cli_generate.run(args)
