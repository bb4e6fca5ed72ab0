"""Cross entropy of logits and class indices, one row at a time (numba).

Per row i with target t, class weights w and label smoothing ε over C classes, with
lse = log Σ_c e^{x_c} (taken after subtracting the row's maximum, so e^x never overflows):

    ℓ = Σ_c a_c·(lse - x_c),   a_c = (1 - ε)·w_t·[c = t] + (ε/C)·w_c
    ∂ℓ/∂x_c = A·p_c - a_c,     A = Σ_c a_c,  p_c = e^{x_c - lse}

numpy needs a pass per step (max, subtract, exp, sum, log, gather): this is one read of the
row for the maximum, one for the sum, one for the smoothing term; the backward one pass.
An ignored target is given as -1: its loss, weight and gradient are 0.
"""
import math

from numba import njit


@njit(cache=True, nogil=True)
def forward(x, target, weight, smoothing, top_out, log_sum_out, loss, target_weight):
    """Fills lse = top + log_sum (kept apart: their float32 sum would round the small part
    away), loss and target_weight (w_t, 0 where ignored) for each row of x (N, C)."""
    rows, classes = x.shape
    for i in range(rows):
        t = target[i]
        if t < 0:
            top_out[i] = 0.0
            log_sum_out[i] = 0.0
            loss[i] = 0.0
            target_weight[i] = 0.0
            continue
        top = x[i, 0]
        for c in range(1, classes):
            if x[i, c] > top:
                top = x[i, c]
        total = 0.0
        for c in range(classes):
            total += math.exp(x[i, c] - top)
        log_sum = math.log(total)
        top_out[i] = top
        log_sum_out[i] = log_sum
        # lse - x_c as (top - x_c) + log_sum: top + log_sum would round log_sum away for
        # large logits (1e30 + log 2 is 1e30), and the loss to 0
        value = (1.0 - smoothing) * weight[t] * ((top - x[i, t]) + log_sum)
        if smoothing > 0.0:
            spread = 0.0
            for c in range(classes):
                spread += weight[c] * ((top - x[i, c]) + log_sum)
            value += smoothing / classes * spread
        loss[i] = value
        target_weight[i] = weight[t]


@njit(cache=True, nogil=True)
def backward(x, target, weight, smoothing, top, log_sum, scale, dx):
    """dx[i, c] = scale[i]·(A·p_c - a_c) (0 for an ignored row)."""
    rows, classes = x.shape
    weight_sum = 0.0
    for c in range(classes):
        weight_sum += weight[c]
    for i in range(rows):
        t = target[i]
        if t < 0:
            for c in range(classes):
                dx[i, c] = 0.0
            continue
        s = scale[i]
        p_t = math.exp((x[i, t] - top[i]) - log_sum[i])
        if smoothing > 0.0:
            spread = smoothing / classes
            total = (1.0 - smoothing) * weight[t] + spread * weight_sum
            for c in range(classes):
                p = math.exp((x[i, c] - top[i]) - log_sum[i])
                dx[i, c] = s * (total * p - spread * weight[c])
            a_t = (total * p_t - spread * weight[t]) - (1.0 - smoothing) * weight[t]
        else:   # (only w_t: another class's weight of ±inf would make 0·inf = NaN)
            total = weight[t]
            for c in range(classes):
                dx[i, c] = s * (total * math.exp((x[i, c] - top[i]) - log_sum[i]))
            a_t = total * p_t - weight[t]
        # the target's element in one expression, rounded once (subtracting from the rounded
        # dx[i, t] would leave a residue, 2e-8 instead of 0 where p_t = 1: a single class)
        dx[i, t] = s * a_t
