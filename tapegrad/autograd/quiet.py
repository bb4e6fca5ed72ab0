"""numpy's floating-point warnings, kept from users where PyTorch is silent.

numpy warns (RuntimeWarning) when a result is inf or nan: log of 0, division by 0,
exp overflowing, sqrt of a negative number, the mean of nothing. PyTorch gives the same
inf and nan without a word, and a script that runs quietly on PyTorch should run quietly
here. So the operations that can meet such values compute inside ``quiet(xp)``, and the
engine runs a whole backward pass inside one (a backward multiplies by 1/x, saved
infinities…). The backend makes it cheap (``backend/errstate.py``); cupy never warns.
"""
from ..backend.errstate import quiet

__all__ = ["quiet"]
