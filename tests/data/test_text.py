"""TextCorpus: a text as (input, target) character sequences for character-level models."""
import pathlib

import pytest

import tapegrad as tg
from tapegrad.data import DataLoader, TextCorpus

TEXT = "hello world\n"


def test_the_vocabulary_is_the_sorted_characters_and_encode_decode_round_trip():
    corpus = TextCorpus(TEXT, seq_len=4)
    assert corpus.vocab == sorted(set(TEXT)) and corpus.vocab_size == 9
    ids = corpus.encode("hold")
    assert ids.dtype is tg.int64 and ids.tolist() == [corpus.vocab.index(c) for c in "hold"]
    assert corpus.decode(ids) == "hold" and corpus.decode([0, 1]) == "".join(corpus.vocab[:2])
    assert corpus.decode(corpus.data) == TEXT


def test_a_sample_is_a_window_and_the_same_window_shifted_by_one():
    corpus = TextCorpus(TEXT, seq_len=4)
    assert len(corpus) == 2                                      # "hell"/"ello", "o wo"/" wor"
    x, y = corpus[1]
    assert corpus.decode(x) == "o wo" and corpus.decode(y) == " wor"
    assert x.dtype is tg.int64 and x.shape == (4,)
    assert corpus.decode(corpus[-1][1]) == " wor"


def test_stride_sets_where_windows_start():
    corpus = TextCorpus(TEXT, seq_len=3, stride=1)
    assert len(corpus) == len(TEXT) - 3                          # every window with a next char
    assert [corpus.decode(corpus[i][0]) for i in (0, 1, 8)] == ["hel", "ell", "rld"]
    assert corpus.decode(corpus[8][1]) == "ld\n"


def test_batches_are_seq_len_wide():
    corpus = TextCorpus("abcdefghij" * 5, seq_len=6, stride=2)
    inputs, targets = next(iter(DataLoader(corpus, batch_size=3)))
    assert inputs.shape == targets.shape == (3, 6)
    assert corpus.decode(inputs[1]) == "cdefgh" and corpus.decode(targets[1]) == "defghi"


def test_reads_a_file_from_a_str_or_a_path(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text("to be or not to be\n")
    assert TextCorpus(str(path), seq_len=5).text == TextCorpus(path, seq_len=5).text == \
        "to be or not to be\n"


def test_a_missing_file_is_an_error_not_a_text(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt not found"):
        TextCorpus(pathlib.Path(tmp_path / "missing.txt"))
    with pytest.raises(FileNotFoundError, match="looks like a file name"):
        TextCorpus(str(tmp_path / "missing.txt"))


def test_a_given_vocabulary_encodes_another_text_the_same_way():
    train, validation = TextCorpus(TEXT * 3, seq_len=4).split(0.5)
    assert train.vocab == validation.vocab
    assert train.text + validation.text == TEXT * 3
    other = TextCorpus("lol\n" * 3, seq_len=2, vocab=train.vocab)
    assert other.encode("l").item() == train.encode("l").item()


def test_unknown_characters_and_bad_indices_are_errors():
    corpus = TextCorpus(TEXT, seq_len=4)
    with pytest.raises(KeyError, match="'z' is not in the vocabulary of 9 characters"):
        corpus.encode("hz")
    with pytest.raises(KeyError, match="'é'"):
        corpus.encode("é")
    with pytest.raises(IndexError, match=r"int in \[0, 9\)"):
        corpus.decode([3, 99])
    with pytest.raises(IndexError, match="index 2 is out of range for 2 samples"):
        corpus[2]


def test_bad_settings_are_errors():
    with pytest.raises(ValueError, match="has 5 characters, but a sample needs seq_len \\+ 1 = 6"):
        TextCorpus("hello", seq_len=5)
    with pytest.raises(ValueError, match="must be positive"):
        TextCorpus(TEXT, seq_len=0)
    with pytest.raises(ValueError, match="lists a character twice"):
        TextCorpus(TEXT, vocab="aab")
    with pytest.raises(TypeError, match="expected a path or a str"):
        TextCorpus(42)
