"""Sequential, ModuleList and ModuleDict: list and dict behaviour, names, forward."""
from collections import OrderedDict

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn


def layers(n):
    return [nn.Linear(i + 1, i + 2) for i in range(n)]


# -- Sequential ------------------------------------------------------------------------------------
def test_sequential_calls_its_modules_in_order():
    a, b = nn.Linear(3, 4), nn.Linear(4, 2)
    seq = nn.Sequential(a, b)
    x = tg.randn(5, 3)
    np.testing.assert_allclose(seq(x).detach().numpy(), b(a(x)).detach().numpy())
    assert nn.Sequential()(x) is x


def test_sequential_from_an_ordered_dict_keeps_the_names():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("out", nn.Linear(3, 1))]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert seq.fc is seq[0] and seq.out is seq[-1]


def test_sequential_indexing_negative_and_out_of_range():
    mods = layers(3)
    seq = nn.Sequential(*mods)
    assert seq[0] is mods[0] and seq[-1] is mods[2] and seq[-3] is mods[0]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    with pytest.raises(IndexError, match="index -4 is out of range"):
        seq[-4]
    with pytest.raises(TypeError, match="integers or slices"):
        seq["0"]


def test_sequential_slicing_returns_a_sequential_keeping_names():
    mods = layers(4)
    seq = nn.Sequential(*mods)
    tail = seq[1:3]
    assert isinstance(tail, nn.Sequential) and list(tail) == mods[1:3]
    assert [n for n, _ in tail.named_children()] == ["1", "2"]
    assert list(seq[::-1]) == mods[::-1]


def test_sequential_len_iter_append_insert_extend():
    mods = layers(4)
    seq = nn.Sequential(mods[0])
    assert seq.append(mods[2]) is seq
    seq.insert(1, mods[1])
    seq.extend([mods[3]])
    assert len(seq) == 4 and list(seq) == mods
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    seq.insert(-1, nn.Identity())
    assert isinstance(seq[3], nn.Identity) and seq[4] is mods[3]
    with pytest.raises(IndexError, match="out of range"):
        seq.insert(9, nn.Identity())
    with pytest.raises(TypeError, match="expected a Module"):
        seq.append(3)


def test_sequential_setitem_and_delitem_renumber():
    mods = layers(4)
    seq = nn.Sequential(*mods)
    replacement = nn.Identity()
    seq[-1] = replacement
    assert seq[3] is replacement
    del seq[1]
    assert list(seq) == [mods[0], mods[2], replacement]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    del seq[0:2]
    assert list(seq) == [replacement] and list(seq._modules) == ["0"]


def test_sequential_add_and_pop():
    mods = layers(3)
    joined = nn.Sequential(mods[0]) + nn.Sequential(mods[1], mods[2])
    assert list(joined) == mods
    assert joined.pop(1) is mods[1] and list(joined) == [mods[0], mods[2]]


# -- ModuleList ------------------------------------------------------------------------------------
def test_module_list_registers_its_modules():
    mods = layers(3)
    lst = nn.ModuleList(mods)
    assert len(lst) == 3 and list(lst) == mods
    assert [n for n, _ in lst.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert len(list(lst.parameters())) == 6


def test_module_list_indexing_slicing_and_index():
    mods = layers(4)
    lst = nn.ModuleList(mods)
    assert lst[-1] is mods[3]
    sliced = lst[1:3]
    assert isinstance(sliced, nn.ModuleList) and list(sliced) == mods[1:3]
    assert [n for n, _ in sliced.named_children()] == ["0", "1"]
    assert lst.index(mods[2]) == 2
    with pytest.raises(ValueError, match="not in the ModuleList"):
        lst.index(nn.Identity())
    with pytest.raises(IndexError, match="out of range"):
        lst[4]


def test_module_list_append_extend_insert_and_plus():
    mods = layers(5)
    lst = nn.ModuleList()
    lst.append(mods[0]).extend([mods[2]])
    lst.insert(1, mods[1])
    lst += [mods[3]]
    assert list(lst) == mods[:4]
    both = lst + nn.ModuleList([mods[4]])
    assert isinstance(both, nn.ModuleList) and list(both) == mods
    assert [n for n, _ in both.named_children()] == ["0", "1", "2", "3", "4"]
    with pytest.raises(TypeError, match="iterable"):
        lst.extend(3)


def test_module_list_setitem_delitem_and_pop():
    mods = layers(3)
    lst = nn.ModuleList(mods)
    lst[0] = nn.Identity()
    assert isinstance(lst[0], nn.Identity)
    del lst[0]
    assert list(lst) == mods[1:] and list(lst._modules) == ["0", "1"]
    assert lst.pop() is mods[2] and len(lst) == 1


def test_module_list_has_no_forward():
    with pytest.raises(NotImplementedError):
        nn.ModuleList([nn.Identity()])(tg.zeros(1))


# -- ModuleDict ------------------------------------------------------------------------------------
def test_module_dict_behaves_like_a_dict():
    a, b, c = layers(3)
    d = nn.ModuleDict({"a": a, "b": b})
    assert len(d) == 2 and list(d) == ["a", "b"] and "a" in d and "z" not in d
    d["c"] = c
    assert d["c"] is c and list(d.keys()) == ["a", "b", "c"]
    assert list(d.values()) == [a, b, c] and list(d.items())[0] == ("a", a)
    assert list(d.state_dict())[:2] == ["a.weight", "a.bias"]
    assert d.pop("b") is b and list(d) == ["a", "c"]
    del d["a"]
    assert list(d) == ["c"]
    d.update([("x", a), ("y", b)])
    assert list(d) == ["c", "x", "y"]
    d.clear()
    assert len(d) == 0


def test_module_dict_update_rejects_bad_input():
    d = nn.ModuleDict()
    with pytest.raises(ValueError, match="element #0"):
        d.update([nn.Identity()])
    with pytest.raises(TypeError, match="not a Module subclass"):
        d["x"] = 3
