"""T5 conditioner: audiocraft semantics (project, then zero padded positions; None/"" = null row)."""
import pytest
import torch

from helpers_t5 import save_tiny_t5, spm_model_file, tiny_t5_encoder, tiny_t5_tokenizer
from tonecraft.conditioning.base import TextConditioner, null_condition, with_null
from tonecraft.conditioning.t5 import SentencePieceT5Tokenizer, T5Conditioner, T5Encoder, load_t5_tokenizer


@pytest.fixture(scope="module")
def conditioner():
    torch.manual_seed(0)
    cond = T5Conditioner(T5Encoder(tiny_t5_encoder(), tiny_t5_tokenizer(), "tiny"), output_dim=24)
    with torch.no_grad():
        cond.output_proj.bias.normal_()  # a non-zero bias shows whether masking happens after the projection
    return cond.eval()


def test_projection_then_mask(conditioner):
    texts = ["a calm piano melody with soft drums", "rock", None, ""]
    inputs = conditioner.tokenize(texts)
    emb, mask = conditioner(inputs)
    assert emb.shape[:2] == mask.shape and emb.shape[0] == 4 and emb.shape[2] == 24
    assert mask[0].all() and mask[1].sum() == 2  # "rock" + EOS
    assert not mask[2].any() and not mask[3].any()
    # Reference: T5 hidden states -> Linear(+bias) -> * mask.
    enc = conditioner.encoder
    with torch.no_grad():
        h = enc.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).last_hidden_state
        ref = conditioner.output_proj(h) * inputs["attention_mask"][..., None]
    torch.testing.assert_close(emb, ref)
    assert (emb[1, 2:] == 0).all() and (emb[2] == 0).all() and (emb[3] == 0).all()
    assert emb[0].abs().sum() > 0


def test_padding_does_not_change_valid_positions(conditioner):
    alone, _ = conditioner.condition(["rock"])
    batched, _ = conditioner.condition(["rock", "a calm piano melody with soft drums"])
    torch.testing.assert_close(batched[0, : alone.shape[1]], alone[0], atol=1e-5, rtol=1e-5)


def test_null_helpers(conditioner):
    emb, mask = conditioner.condition(["jazz", "pop beat"])
    null_emb, null_mask = null_condition(emb, mask)
    assert null_emb.shape == emb.shape and not null_emb.any() and not null_mask.any()
    both, both_mask = with_null(emb, mask)
    assert both.shape[0] == 4 and torch.equal(both[:2], emb) and not both[2:].any()
    # Same as encoding [None, None] alongside the texts (audiocraft's CFG batch).
    joint, _ = conditioner.condition(["jazz", "pop beat", None, None])
    torch.testing.assert_close(joint, both, atol=1e-5, rtol=1e-5)


def test_encoder_not_in_state_dict(conditioner):
    assert set(conditioner.state_dict()) == {"output_proj.weight", "output_proj.bias"}
    assert all(not p.requires_grad for p in conditioner.encoder.model.parameters())
    assert isinstance(conditioner, TextConditioner)


def test_word_dropout_only_in_training():
    cond = T5Conditioner(T5Encoder(tiny_t5_encoder(), tiny_t5_tokenizer()), output_dim=8, word_dropout=1.0)
    text = "a calm piano melody"
    assert cond.eval().tokenize([text])["attention_mask"].sum() > 1
    assert cond.train().tokenize([text])["attention_mask"].sum() == 0  # every word dropped -> null row


def test_load_from_directory(tmp_path):
    save_tiny_t5(tmp_path, seed=3)
    enc = T5Encoder.from_pretrained(tmp_path)
    assert enc.dim == 32
    cond = T5Conditioner(tmp_path, output_dim=16)
    emb, mask = cond.condition(["happy dance track"])
    assert emb.shape == (1, mask.shape[1], 16)
    ref = tiny_t5_encoder(seed=3)
    ids = tiny_t5_tokenizer()(["happy dance track"], return_tensors="pt")
    torch.testing.assert_close(enc.encode(dict(ids)), ref(**ids).last_hidden_state.detach())


def test_sentencepiece_fallback_matches_t5_tokenizer(tmp_path):
    texts = ["a calm piano melody", "rock", "epic orchestral cinematic"]
    ours = SentencePieceT5Tokenizer(spm_model_file())(texts)
    ref = tiny_t5_tokenizer()(texts, padding=True, return_tensors="pt")
    assert torch.equal(ours["input_ids"], ref["input_ids"])
    assert torch.equal(ours["attention_mask"], ref["attention_mask"])
    (tmp_path / "spiece.model").write_bytes(open(spm_model_file(), "rb").read())
    assert isinstance(load_t5_tokenizer(tmp_path), SentencePieceT5Tokenizer)


def test_unknown_t5_name_is_a_clear_error():
    from tonecraft.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="t5-base"):
        T5Encoder.from_pretrained("t5-gigantic")


def test_offline_t5_by_name_says_what_to_download(tmp_path, monkeypatch):
    from tonecraft.errors import ModelNotFoundError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(ModelNotFoundError) as exc:
        T5Encoder.from_pretrained("t5-base")
    msg = str(exc.value)
    assert "google-t5/t5-base" in msg and "config.json" in msg
