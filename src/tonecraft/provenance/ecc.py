"""Error correction for the watermark payload: CRC-16 + a rate-1/2, constraint-length-7 convolutional code
(the NASA/Voyager polynomials 133, 171 octal) with soft-decision Viterbi decoding.

Why a convolutional code: the detector gets a soft value per coded bit (a correlation), and soft Viterbi
turns ~5 dB of per-bit gain into a decoded payload where a hard repetition code would not; the CRC (with the
payload's marker byte) is what says a decoded payload is real rather than the best guess from noise.
"""
from __future__ import annotations

import numpy as np

K = 7                       # constraint length
POLYS = (0o133, 0o171)      # generator polynomials
N_STATES = 1 << (K - 1)


CRC_BITS = 16


def crc16(bits: np.ndarray) -> np.ndarray:
    """CRC-16/CCITT (polynomial 0x1021, initial 0xFFFF) of a bit array (MSB first), as 16 bits. With the
    payload's marker byte, a decode from noise passes the checks once in 2**24 tries (CRC-8 let one wrong
    payload through in ~20 000 decodes of weak marks in bench/watermark.py)."""
    reg = 0xFFFF
    for b in np.asarray(bits, dtype=np.uint8):
        top = ((reg >> 15) & 1) ^ int(b)
        reg = (reg << 1) & 0xFFFF
        if top:
            reg ^= 0x1021
    return np.array([(reg >> (15 - i)) & 1 for i in range(CRC_BITS)], dtype=np.uint8)


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


# Output bits for (state, input): state holds the last K-1 inputs, newest in the top bit.
_OUT = np.array([[[_parity(((b << (K - 1)) | s) & p) for p in POLYS] for b in (0, 1)] for s in range(N_STATES)],
                dtype=np.int8)
_NEXT = np.array([[((b << (K - 1)) | s) >> 1 for b in (0, 1)] for s in range(N_STATES)], dtype=np.int64)


def encode(bits: np.ndarray) -> np.ndarray:
    """Info bits -> coded bits (2 per input, K-1 zero tail bits appended so the trellis ends in state 0)."""
    state, out = 0, []
    for b in list(np.asarray(bits, dtype=np.int64)) + [0] * (K - 1):
        out.extend(_OUT[state, b])
        state = _NEXT[state, b]
    return np.array(out, dtype=np.uint8)


def coded_length(n_info: int) -> int:
    return 2 * (n_info + K - 1)


def viterbi(soft: np.ndarray, n_info: int) -> np.ndarray:
    """Soft values (positive = bit 1, magnitude = confidence), length `coded_length(n_info)` -> info bits."""
    soft = np.asarray(soft, dtype=np.float64).reshape(-1, 2)
    signs = 2.0 * _OUT - 1.0                      # [state, input, 2]
    metric = np.full(N_STATES, -np.inf)
    metric[0] = 0.0
    back = np.zeros((len(soft), N_STATES), dtype=np.int64)    # best previous state
    back_bit = np.zeros((len(soft), N_STATES), dtype=np.int8)
    for t, pair in enumerate(soft):
        gain = metric[:, None] + signs @ pair                  # [state, input]
        new = np.full(N_STATES, -np.inf)
        for b in (0, 1):
            nxt = _NEXT[:, b]
            cand = gain[:, b]
            # several states lead to each next state: keep the best
            order = np.argsort(cand)
            new_vals = new[nxt[order]]
            better = cand[order] > new_vals
            idx = nxt[order][better]
            new[idx] = cand[order][better]
            back[t, idx] = np.arange(N_STATES)[order][better]
            back_bit[t, idx] = b
        metric = new
    state, bits = 0, []
    for t in range(len(soft) - 1, -1, -1):
        bits.append(back_bit[t, state])
        state = back[t, state]
    return np.array(bits[::-1][:n_info], dtype=np.uint8)
