"""CRC-16 + rate-1/2 convolutional code with soft Viterbi."""
import numpy as np

from tonecraft.provenance import ecc


def test_viterbi_corrects_noise_and_errors():
    rng = np.random.default_rng(0)
    for _ in range(20):
        bits = rng.integers(0, 2, 48).astype(np.uint8)
        coded = ecc.encode(bits)
        assert coded.size == ecc.coded_length(48)
        soft = (coded * 2.0 - 1.0) + rng.normal(0, 0.5, coded.size)
        soft[[5, 40, 75]] *= -1      # a few spread hard errors on top
        assert np.array_equal(ecc.viterbi(soft, 48), bits)


def test_crc_changes_with_any_bit():
    bits = np.zeros(32, np.uint8)
    base = ecc.crc16(bits)
    for i in range(32):
        flipped = bits.copy()
        flipped[i] = 1
        assert not np.array_equal(ecc.crc16(flipped), base)
