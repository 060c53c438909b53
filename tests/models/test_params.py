"""Every default of a model family comes from models/params.py, and the models and the CLI agree with it."""
import argparse

import pytest

from tonecraft.errors import ConfigError
from tonecraft.models.audiogen import AudioGen
from tonecraft.models.musicgen import MusicGen
from tonecraft.models.params import (AUDIOGEN_DEFAULTS, MUSICGEN_DEFAULTS, GenerationParams, family_defaults)

from helpers_generation import tiny_generator


@pytest.mark.parametrize("cls, defaults, after_load, after_reset", [
    (MusicGen, MUSICGEN_DEFAULTS, 15.0, (30.0, 18.0)),  # audiocraft: MusicGen.__init__ 15 s, set_generation_params 30 s
    (AudioGen, AUDIOGEN_DEFAULTS, 5.0, (10.0, 2.0)),
])
def test_models_follow_their_family_defaults(cls, defaults, after_load, after_reset):
    model = tiny_generator(cls, max_duration=60.0)
    assert model.defaults is defaults and family_defaults(cls.family) is defaults
    assert model.duration == after_load == defaults.loaded_duration
    model.set_generation_params()
    assert (model.params.duration, model.params.extend_stride) == after_reset
    assert model.default_extend_stride == after_reset[1]
    short = tiny_generator(cls, max_duration=1.0)
    assert short.duration == 1.0  # never longer than one window after loading
    assert tiny_generator(cls, max_duration=None).max_duration == defaults.max_duration


def test_generation_params_defaults_are_audiocrafts():
    p = GenerationParams()
    assert (p.duration, p.top_k, p.top_p, p.temperature, p.cfg_coef, p.extend_stride) == (30.0, 250, 0.0, 1.0, 3.0, 18.0)
    with pytest.raises(ConfigError, match="family"):
        family_defaults("speechgen")


def test_cli_reads_the_family_defaults():
    from tonecraft.cli import generate

    parser = argparse.ArgumentParser()
    generate.add_arguments(parser)
    args = parser.parse_args(["x"])
    assert (args.top_k, args.top_p, args.temperature) == (GenerationParams.top_k, GenerationParams.top_p,
                                                          GenerationParams.temperature)
    help_text = " ".join(parser.format_help().split())  # argparse wraps lines
    assert f"default: {MUSICGEN_DEFAULTS.cli_duration:g} for MusicGen, {AUDIOGEN_DEFAULTS.cli_duration:g}" in help_text
