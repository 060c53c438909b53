"""Parity of our LM with transformers' MusicgenForCausalLM (random weights, float32).

Notes on the reference (transformers 5.x):
- HF masks padded text positions in cross-attention, audiocraft (and we) attend to them as zero vectors, so
  the conditions here have no padding (no `encoder_attention_mask`), where both agree.
- `MusicgenForCausalLM.generate` with `encoder_hidden_states` builds a plain `DynamicCache`, so cross-attention
  K/V end up in the self-attention cache (wrong logits); we pass an `EncoderDecoderCache` explicitly.
- It also infers an all-zero attention mask because BOS == pad, so we pass a ones mask of shape [B, L].
- With a prompt, its `prepare_inputs_for_generation` feeds only the last column on the first step (the prompt
  prefill is dropped), so the prompted reference drives HF's decoder step by step with its own KV cache and
  its own `build_delay_pattern_mask`.
"""
import pytest
import torch

transformers = pytest.importorskip("transformers")
from transformers import MusicgenDecoderConfig, MusicgenForCausalLM  # noqa: E402
from transformers.cache_utils import DynamicCache, EncoderDecoderCache  # noqa: E402

from tonecraft.lm.config import LMConfig  # noqa: E402
from tonecraft.lm.generate import ConditionTensors, generate_tokens  # noqa: E402
from tonecraft.lm.model import LMModel  # noqa: E402
from tonecraft.pretrained.lm_convert import lm_state_dict_from_hf, lm_state_dict_to_hf  # noqa: E402

CARD, D, K, L, H = 128, 64, 4, 3, 4


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    hcfg = MusicgenDecoderConfig(vocab_size=CARD, hidden_size=D, num_hidden_layers=L, num_attention_heads=H,
                                 ffn_dim=4 * D, num_codebooks=K, dropout=0.0, pad_token_id=CARD,
                                 bos_token_id=CARD, max_position_embeddings=256)
    hf = MusicgenForCausalLM(hcfg).eval()
    # HF's init (std 0.02) gives near-uniform logits; use audiocraft's wider init so greedy has no near-ties.
    src = LMModel(LMConfig(dim=D, num_heads=H, num_layers=L, n_q=K, card=CARD))
    hf.load_state_dict(lm_state_dict_to_hf(src.state_dict()), strict=True)
    hf.generation_config.decoder_start_token_id = CARD
    ours = LMModel(LMConfig(dim=D, num_heads=H, num_layers=L, n_q=K, card=CARD)).eval()
    ours.load_state_dict(lm_state_dict_from_hf(hf.state_dict()), strict=True)
    return ours, hf


def test_state_dict_round_trip(models):
    ours, hf = models
    sd = ours.state_dict()
    back = lm_state_dict_from_hf(lm_state_dict_to_hf(sd))
    assert back.keys() == sd.keys() and all(torch.equal(back[k], sd[k]) for k in sd)
    composite = {"decoder." + k: v for k, v in hf.state_dict().items()}
    composite["enc_to_dec_proj.weight"] = torch.zeros(D, 8)  # ignored: conditioning/ owns it
    conv = lm_state_dict_from_hf(composite, prefix="decoder.")
    assert conv.keys() == sd.keys() and all(torch.equal(conv[k], sd[k]) for k in sd)
    audiocraft_style = dict(sd, **{"condition_provider.conditioners.description.output_proj.weight": torch.zeros(1)})
    assert lm_state_dict_to_hf(audiocraft_style).keys() == hf.state_dict().keys()


def _hf_logits(hf, codes, cross):
    B, _, S = codes.shape
    with torch.no_grad():
        return hf(input_ids=codes.reshape(B * K, S), encoder_hidden_states=cross).logits.view(B, K, S, CARD)


def test_logits_match_hf(models):
    ours, hf = models
    g = torch.Generator().manual_seed(1)
    codes = torch.randint(0, CARD + 1, (3, K, 17), generator=g)  # includes the special token
    cross = torch.randn(3, 6, D, generator=g)
    with torch.inference_mode():
        a = ours(codes, cross)
    assert (a - _hf_logits(hf, codes, cross)).abs().max() < 1e-4


def test_cfg_logits_match_hf(models):
    ours, hf = models
    g = torch.Generator().manual_seed(2)
    B, cfg = 2, 3.0
    codes = torch.randint(0, CARD, (B, K, 9), generator=g)
    cross = torch.randn(B, 5, D, generator=g)
    null = torch.zeros_like(cross)
    with torch.inference_mode():  # ours: one batch of 2B, cond first
        c, u = ours(torch.cat([codes, codes]), torch.cat([cross, null])).split(B)
    guided = u + (c - u) * cfg
    hc, hu = _hf_logits(hf, codes, cross), _hf_logits(hf, codes, null)
    assert (guided - (hu + (hc - hu) * cfg)).abs().max() < 1e-4


def test_greedy_cfg_generation_matches_hf_generate(models):
    ours, hf = models
    B, T = 2, 60  # 63 decoding steps
    cross = torch.randn(B, 5, D, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = hf.generate(input_ids=torch.full((B * K, 1), CARD), attention_mask=torch.ones(B, 1, dtype=torch.long),
                          encoder_hidden_states=torch.cat([cross, torch.zeros_like(cross)]),
                          cache=EncoderDecoderCache(DynamicCache(), DynamicCache()),
                          guidance_scale=3.0, do_sample=False, max_length=T + K, num_return_sequences=1)
    out = generate_tokens(ours, ConditionTensors(cross=cross), max_gen_len=T, use_sampling=False, cfg_coef=3.0)
    assert ref.shape == out.shape == (B, K, T)
    assert torch.equal(out, ref)


def _hf_stepwise_greedy(hf, cross, prompt, T, cfg):
    """HF decoder driven step by step with its own KV cache and delay-pattern helpers."""
    B, _, Tp = prompt.shape
    ids = torch.cat([torch.full((B, K, 1), CARD), prompt], -1).reshape(B * K, -1)
    ids, pattern_mask = hf.build_delay_pattern_mask(ids, pad_token_id=CARD, max_length=T + K)
    enc = torch.cat([cross, torch.zeros_like(cross)])
    cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
    feed = ids
    with torch.no_grad():
        while ids.shape[-1] < T + K:
            step_in = hf.apply_delay_pattern_mask(feed, pattern_mask[:, :ids.shape[-1]][:, -feed.shape[-1]:])
            logits = hf(input_ids=step_in.repeat(2, 1), encoder_hidden_states=enc, cache=cache).logits[:, -1]
            c, u = logits.split(B * K)
            nxt = (u + (c - u) * cfg).argmax(-1, keepdim=True)
            ids = hf.apply_delay_pattern_mask(torch.cat([ids, nxt], -1), pattern_mask)
            feed = ids[:, -1:]
    ids = hf.apply_delay_pattern_mask(ids, pattern_mask)
    return ids[ids != CARD].reshape(B, K, -1)


def test_greedy_cfg_generation_with_prompt_matches_hf(models):
    ours, hf = models
    g = torch.Generator().manual_seed(4)
    B, T = 2, 56
    cross = torch.randn(B, 4, D, generator=g)
    prompt = torch.randint(0, CARD, (B, K, 7), generator=g)
    ref = _hf_stepwise_greedy(hf, cross, prompt, T, 3.0)
    out = generate_tokens(ours, ConditionTensors(cross=cross), prompt=prompt, max_gen_len=T,
                          use_sampling=False, cfg_coef=3.0)
    assert torch.equal(out[..., :7], prompt)
    assert torch.equal(out, ref)
