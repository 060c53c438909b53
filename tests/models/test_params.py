"""Every default of a model family comes from models/params.py, and the models and the CLI agree with it."""
import argparse

import pytest
import torch

from tonecraft.errors import ConfigError
from tonecraft.models.audiogen import AudioGen
from tonecraft.models.musicgen import MusicGen
from tonecraft.models.params import (AUDIOGEN_DEFAULTS, MUSICGEN_DEFAULTS, GenerationParams, family_defaults)

from helpers_generation import tiny_export, tiny_generator


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
    assert (args.top_k, args.top_p, args.temperature, args.cfg) == (None, GenerationParams.top_p, None, None)
    help_text = " ".join(parser.format_help().split())  # argparse wraps lines
    assert f"default: the model's, {GenerationParams.top_k}" in help_text
    assert f"default: {MUSICGEN_DEFAULTS.cli_duration:g} for MusicGen, {AUDIOGEN_DEFAULTS.cli_duration:g}" in help_text


def test_a_checkpoints_sampling_defaults_are_the_models(tmp_path):
    """A shipped model carries the temperature / top-k / guidance its probe chose: a fresh model starts with them
    and `set_generation_params` resets omitted values to them, not to audiocraft's."""
    model = MusicGen.from_pretrained(tiny_export(tmp_path / "m", temperature=0.0, top_k=7, cfg_coef=2.0))
    assert (model.params.temperature, model.params.top_k, model.params.cfg_coef) == (0.0, 7, 2.0)
    model.set_generation_params(duration=0.2)
    assert (model.params.temperature, model.params.top_k, model.params.cfg_coef, model.params.duration) == (
        0.0, 7, 2.0, 0.2)
    greedy = [model.generate(["a calm piano melody"], seed=s, return_tokens=True)[1] for s in (0, 1)]
    assert torch.equal(*greedy)  # temperature 0 from the config: the seed does not matter
    model.set_generation_params(duration=0.2, temperature=1.0, top_k=250)
    sampled = [model.generate(["a calm piano melody"], seed=s, return_tokens=True)[1] for s in (0, 1)]
    assert not torch.equal(*sampled)
    plain = MusicGen.from_pretrained(tiny_export(tmp_path / "plain"))
    assert (plain.params.temperature, plain.params.top_k, plain.params.cfg_coef) == (1.0, 250, 3.0)


def test_a_bad_sampling_default_in_a_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="temperature"):
        MusicGen.from_pretrained(tiny_export(tmp_path / "m", temperature=-1.0))
