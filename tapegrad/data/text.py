"""``TextCorpus``: a text as a data set of character sequences, for character-level models.

The vocabulary is the sorted set of characters in the text; each character is encoded as
its position there. Sample ``i`` is a pair of int64 tensors of length ``seq_len``: the
characters starting at ``i·stride``, and the same window shifted by one, which are the
characters to predict (a char-RNN reads ``input[t]`` and is trained to output ``target[t]``):

    text     "hello world", seq_len = 4, stride = 4
    sample 0 input "hell"  target "ello"
    sample 1 input "o wo"  target " wor"
"""
import operator
import os
import pathlib

import numpy  # text is encoded on the host

from .. import backend, creation
from ..autograd.tensor import Tensor
from .dataset import Dataset


def _read_source(source, encoding):
    """``source`` as text: the contents of a file it names, or the string itself."""
    if isinstance(source, os.PathLike) or (isinstance(source, str) and os.path.isfile(source)):
        path = pathlib.Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"TextCorpus: {path} not found (pass the path of a text "
                                    f"file, or the text itself as a str)")
        return path.read_text(encoding=encoding)
    if isinstance(source, str):
        if source.endswith(".txt") and "\n" not in source:
            raise FileNotFoundError(f"TextCorpus: {source} looks like a file name, but there is "
                                    f"no such file (to use these characters as the text, pass "
                                    f"them with a newline, or rename the file)")
        return source
    raise TypeError(f"TextCorpus: expected a path or a str of text, got {type(source).__name__}")


class TextCorpus(Dataset):
    """Character sequences of a text: ``TextCorpus("input.txt", seq_len=100)``.

    - ``path_or_text``: a path (str naming an existing file, or a ``pathlib.Path``) or the
      text itself.
    - ``seq_len``: characters per sample; ``stride``: characters between the starts of
      consecutive samples (default ``seq_len``: non-overlapping windows; 1: every window).
    - ``vocab``: the characters to use, in order (default: the sorted characters of the
      text); pass ``train.vocab`` to encode a validation text the same way.
    """

    def __init__(self, path_or_text, seq_len=100, stride=None, vocab=None, encoding="utf-8"):
        self._build(_read_source(path_or_text, encoding), seq_len, stride, vocab)

    def _build(self, text, seq_len, stride, vocab):
        self.text = text
        self.seq_len = operator.index(seq_len)
        self.stride = self.seq_len if stride is None else operator.index(stride)
        if self.seq_len < 1 or self.stride < 1:
            raise ValueError(f"TextCorpus: seq_len and stride must be positive, got seq_len="
                             f"{self.seq_len}, stride={self.stride}")
        self.vocab = sorted(set(self.text)) if vocab is None else list(vocab)
        if not all(isinstance(char, str) and len(char) == 1 for char in self.vocab):
            raise ValueError("TextCorpus: the vocabulary must be single characters")
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError("TextCorpus: the vocabulary lists a character twice")
        self.char_to_index = {char: i for i, char in enumerate(self.vocab)}
        self.data = self.encode(self.text)
        if len(self.text) <= self.seq_len:
            raise ValueError(f"TextCorpus: the text has {len(self.text)} characters, but a "
                             f"sample needs seq_len + 1 = {self.seq_len + 1}")

    @property
    def vocab_size(self):
        return len(self.vocab)

    def encode(self, text):
        """The characters of ``text`` as an int64 tensor of vocabulary positions."""
        # Look every character's code point up in a table, all at once.
        codes = numpy.frombuffer(text.encode("utf-32-le"), dtype=numpy.uint32)
        table = numpy.full(max(map(ord, self.vocab), default=0) + 1, -1, dtype=numpy.int64)
        table[[ord(char) for char in self.vocab]] = numpy.arange(len(self.vocab))
        known = codes < len(table)
        indices = numpy.where(known, table[numpy.where(known, codes, 0)], -1)
        if (indices < 0).any():
            char = text[int(numpy.argmax(indices < 0))]
            raise KeyError(f"TextCorpus.encode: the character {char!r} is not in the "
                           f"vocabulary of {self.vocab_size} characters")
        return creation.as_tensor(indices)

    def decode(self, indices):
        """The text spelled by vocabulary positions (a tensor, array or list of ints)."""
        if isinstance(indices, Tensor):
            indices = backend.to_numpy(indices.array)
        values = backend.host_array(indices).reshape(-1).tolist()
        try:
            return "".join(self.vocab[i] for i in values)
        except (IndexError, TypeError):
            raise IndexError(f"TextCorpus.decode: every index must be an int in "
                             f"[0, {self.vocab_size}), got {values}") from None

    def split(self, fraction):
        """Two corpora with this vocabulary: the first ``fraction`` of the text, and the rest."""
        cut = int(len(self.text) * fraction)
        parts = []
        for text in (self.text[:cut], self.text[cut:]):
            part = TextCorpus.__new__(TextCorpus)
            part._build(text, self.seq_len, self.stride, self.vocab)
            parts.append(part)
        return tuple(parts)

    def __len__(self):
        return (len(self.text) - 1 - self.seq_len) // self.stride + 1

    def __getitem__(self, index):
        n, index = len(self), operator.index(index)
        if not -n <= index < n:
            raise IndexError(f"TextCorpus: index {index} is out of range for {n} samples")
        start = (index % n) * self.stride
        return self.data[start:start + self.seq_len], self.data[start + 1:start + 1 + self.seq_len]

    def get_batch(self, indices):
        """All windows at once: an (N, seq_len) array of positions picks them in one go."""
        if type(self).__getitem__ is not TextCorpus.__getitem__:
            return super().get_batch(indices)
        xp = self.data.device.xp
        starts = xp.asarray(indices) * self.stride
        positions = starts[:, None] + xp.arange(self.seq_len)
        data = self.data.array
        return [creation.as_tensor(data[positions]), creation.as_tensor(data[positions + 1])]
