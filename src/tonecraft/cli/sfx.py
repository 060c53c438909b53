"""`tonecraft sfx "PROMPT" -o out.wav`: sound effects with an AudioGen-family model.

    tonecraft sfx "a laser shot" -o laser.wav                                # the shipped tonecraft-sfx-default
    tonecraft sfx "footsteps on gravel" -n 4 --seed 7 -o steps.wav           # steps_0.wav ... steps_3.wav
    tonecraft sfx "a dog barking in the distance" -m audiogen-medium -d 4    # the official AudioGen weights

Same options as `tonecraft generate`; --model defaults to tonecraft's own sound-effects model, trained offline
and shipped in the package (`pretrained.default_model`, model card in src/tonecraft/assets/sfx/); the official
`audiogen-medium` or a local AudioGen directory work too. Default duration 5 s; longer sounds than the model's
window use the 2-s sliding-window extension.
"""
from __future__ import annotations

import argparse

from ..pretrained.default_model import DEFAULT_SFX_MODEL_NAME
from . import generate as cli_generate

DEFAULT_MODEL = DEFAULT_SFX_MODEL_NAME


def add_arguments(p: argparse.ArgumentParser) -> None:
    cli_generate.add_arguments(p, default_model=DEFAULT_MODEL)


def run(args: argparse.Namespace) -> int:
    return cli_generate.run(args)
