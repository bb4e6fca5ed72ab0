"""Multiplying a gradient by a local derivative that may be 0."""


def gate(grad, factor):
    """grad · factor, where a factor of 0 gives 0 even for an infinite grad (0·∞ is NaN).

    Backward passes multiply the incoming gradient by a local derivative; where that is
    0 (relu below 0, clamp outside its bounds, the smaller of maximum's inputs) the
    gradient is 0 whatever arrives, as in PyTorch. The product is the fast path; the
    repair runs only when the product holds a NaN.
    """
    z = grad * factor
    xp = z.device.xp
    if z.array.dtype.kind == "f" and bool(xp.any(xp.isnan(z.array))):
        from .arithmetic import where
        z = where(factor == 0, 0.0, z)
    return z
