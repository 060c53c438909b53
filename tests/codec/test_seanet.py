import pytest
import torch

from tonecraft.codec.seanet import SEANetDecoder, SEANetEncoder

seanet_ref = pytest.importorskip("encodec.modules.seanet")

TINY = dict(channels=2, dimension=8, n_filters=4, ratios=[4, 2], n_residual_layers=2, lstm=2)


def _legacy_to_param(sd):
    return {k.replace("weight_g", "parametrizations.weight.original0").replace("weight_v", "parametrizations.weight.original1"): v
            for k, v in sd.items()}


@pytest.mark.parametrize("norm,causal,true_skip", [("weight_norm", True, False), ("time_group_norm", False, False),
                                                    ("weight_norm", False, True)])
def test_keys_and_outputs_match_encodec(norm, causal, true_skip):
    torch.manual_seed(0)
    kw = dict(TINY, norm=norm, causal=causal, true_skip=true_skip)
    ref_enc, ref_dec = seanet_ref.SEANetEncoder(**kw), seanet_ref.SEANetDecoder(**kw)
    enc, dec = SEANetEncoder(**kw), SEANetDecoder(**kw)
    ref_sd_e, ref_sd_d = _legacy_to_param(ref_enc.state_dict()), _legacy_to_param(ref_dec.state_dict())
    assert set(enc.state_dict()) == set(ref_sd_e)
    assert set(dec.state_dict()) == set(ref_sd_d)
    enc.load_state_dict(ref_sd_e)
    dec.load_state_dict(ref_sd_d)
    x = torch.randn(2, 2, 203)
    with torch.no_grad():
        z, rz = enc(x), ref_enc(x)
        assert z.shape == (2, 8, 26)
        assert torch.allclose(z, rz, atol=1e-5)
        y = dec(z)
        assert y.shape == (2, 2, 26 * 8)
        assert torch.allclose(y, ref_dec(rz), atol=1e-5)
    # with autograd on, the out-of-place path gives the same numbers and gradients flow
    z2 = enc(x)
    assert torch.allclose(z2, z, atol=1e-6)
    z2.sum().backward()
    assert all(p.grad is not None for p in enc.parameters())


def test_official_24khz_key_names():
    enc = SEANetEncoder(causal=True, true_skip=False)
    dec = SEANetDecoder(causal=True, true_skip=False)
    keys = set(enc.state_dict()) | {"d." + k for k in dec.state_dict()}
    for k in ["model.0.conv.conv.parametrizations.weight.original1", "model.1.block.1.conv.conv.bias",
              "model.1.block.3.conv.conv.parametrizations.weight.original0", "model.1.shortcut.conv.conv.bias",
              "model.13.lstm.weight_ih_l0", "model.13.lstm.weight_hh_l1", "model.15.conv.conv.bias",
              "d.model.1.lstm.bias_ih_l0", "d.model.3.convtr.convtr.parametrizations.weight.original0",
              "d.model.12.convtr.convtr.bias", "d.model.13.block.3.conv.conv.bias", "d.model.15.conv.conv.bias"]:
        assert k in keys, k
    assert enc.hop_length == dec.hop_length == 320


def test_disable_norm_outer_blocks():
    enc = SEANetEncoder(**TINY, disable_norm_outer_blocks=1)
    dec = SEANetDecoder(**TINY, disable_norm_outer_blocks=1)
    assert "model.0.conv.conv.weight" in enc.state_dict()
    assert "model.4.conv.conv.parametrizations.weight.original0" in enc.state_dict()
    last = len(dec.model) - 1
    assert f"model.{last}.conv.conv.weight" in dec.state_dict()


def test_final_activation_and_no_lstm():
    dec = SEANetDecoder(**dict(TINY, lstm=0), final_activation="Tanh")
    assert isinstance(dec.model[-1], torch.nn.Tanh)
    with torch.no_grad():
        y = dec(torch.randn(1, 8, 5) * 100)
    assert y.abs().max() <= 1.0
