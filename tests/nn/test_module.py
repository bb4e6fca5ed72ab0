"""nn.Module: registration, traversal order, state_dict, modes, devices, hooks and repr."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn


class Scaler(nn.Module):
    """A custom module with a parameter, a persistent and a non-persistent buffer."""

    def __init__(self, n):
        super().__init__()
        self.scale = nn.Parameter(tg.ones(n))
        self.register_buffer("running", tg.zeros(n))
        self.register_buffer("scratch", tg.zeros(n), persistent=False)

    def forward(self, x):
        return x * self.scale + self.running


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.Flatten(), nn.Linear(8, 5))
        self.post = Scaler(5)
        self.head = nn.Linear(5, 3, bias=False)

    def forward(self, x):
        return self.head(self.post(self.features(x)))


def fresh_net(seed):
    tg.manual_seed(seed)
    return Net()


# -- registration ----------------------------------------------------------------------------------
def test_attribute_assignment_registers_parameters_buffers_and_children_in_order():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias",
        "post.scale", "head.weight"]
    assert [name for name, _ in net.named_buffers()] == ["post.running", "post.scratch"]
    assert [name for name, _ in net.named_children()] == ["features", "post", "head"]
    assert [name for name, _ in net.named_modules()] == [
        "", "features", "features.0", "features.1", "features.2", "post", "head"]
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())


def test_iterators_are_generators_and_take_prefix_and_recurse():
    net = Net()
    assert not isinstance(net.parameters(), list)
    assert next(iter(net.parameters())) is net.features[0].weight
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.features.0.weight"
    assert list(net.named_parameters(recurse=False)) == []
    assert [n for n, _ in net.post.named_parameters(recurse=False)] == ["scale"]
    assert list(net.buffers(recurse=False)) == []
    assert len(list(net.modules())) == 7
    assert list(net.children()) == [net.features, net.post, net.head]


def test_a_shared_parameter_is_listed_once_unless_duplicates_are_asked_for():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    model = nn.Sequential(a, b)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "1.weight", "1.bias"]
    # state_dict keeps every name, as PyTorch's does
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_a_shared_module_is_visited_once():
    inner = nn.Linear(2, 2)
    model = nn.Sequential(inner, inner)
    assert [n for n, _ in model.named_modules()] == ["", "0"]
    assert [n for n, _ in model.named_modules(remove_duplicate=False)] == ["", "0", "1"]
    assert len(list(model.parameters())) == 2


def test_assigning_none_keeps_the_slot_and_a_plain_tensor_to_a_parameter_name_raises():
    lin = nn.Linear(3, 2)
    lin.bias = None
    assert "bias" in lin._parameters and lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert list(lin.state_dict()) == ["weight"]
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        lin.weight = tg.zeros(2, 3)
    lin.bias = nn.Parameter(tg.zeros(2))
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]


def test_buffers_accept_tensors_or_none_and_reject_other_values():
    s = Scaler(2)
    s.running = tg.ones(2)
    assert s.running.tolist() == [1.0, 1.0]
    s.running = None
    assert "running" not in s.state_dict()
    with pytest.raises(TypeError, match="buffer 'running'"):
        s.running = [1.0, 2.0]


def test_child_module_slot_rejects_non_modules():
    net = Net()
    with pytest.raises(TypeError, match="child module 'head'"):
        net.head = 3
    net.head = None
    assert [n for n, _ in net.named_children()] == ["features", "post"]


def test_register_checks_names_and_types():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="empty string"):
        m.register_buffer("", None)
    with pytest.raises(TypeError, match="should be a string"):
        m.add_module(3, nn.Identity())
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        m.register_buffer("forward", tg.zeros(1))
    with pytest.raises(TypeError, match="Parameter or None required"):
        m.register_parameter("w", tg.zeros(2))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("child", 3)
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("w", _non_leaf_parameter())
    m.register_module("child", nn.Identity())
    assert m.child is m._modules["child"]


def _non_leaf_parameter():
    p = nn.Parameter(tg.zeros(2))
    p.grad_fn = (p * 2).grad_fn   # forced: Parameter() itself always makes leaves
    return p


def test_assigning_members_before_init_raises():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tg.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()

    class Forgot(nn.Module):
        def __init__(self):
            self.size = 3

        def forward(self, x):
            return x

    with pytest.raises(AttributeError, match=r"must call super\(\).__init__\(\)"):
        Forgot()(tg.zeros(1))


def test_getattr_delattr_and_dir():
    s = Scaler(2)
    assert s.scale is s._parameters["scale"]
    with pytest.raises(AttributeError, match="'Scaler' object has no attribute 'nothing'"):
        s.nothing
    assert {"scale", "running", "scratch", "forward"} <= set(dir(s))
    del s.running
    assert "running" not in s._buffers and "running" not in s.state_dict()
    seq = nn.Sequential(nn.Identity())
    assert "0" not in dir(seq)


def test_get_submodule_parameter_and_buffer():
    net = Net()
    assert net.get_submodule("features.2") is net.features[2]
    assert net.get_submodule("") is net
    assert net.get_parameter("features.0.bias") is net.features[0].bias
    assert net.get_buffer("post.running") is net.post.running
    with pytest.raises(AttributeError, match="no submodule `nope`"):
        net.get_submodule("features.nope")


def test_forward_missing_raises():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(tg.zeros(1))


# -- state_dict ------------------------------------------------------------------------------------
def test_state_dict_keys_and_values_share_memory_detached():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["features.0.weight", "features.0.bias", "features.2.weight",
                        "features.2.bias", "post.scale", "post.running", "head.weight"]
    w = sd["features.0.weight"]
    assert not isinstance(w, nn.Parameter) and not w.requires_grad
    assert np.shares_memory(w.numpy(), net.features[0].weight.detach().numpy())
    kept = net.state_dict(keep_vars=True)
    assert kept["features.0.weight"] is net.features[0].weight


def test_state_dict_round_trip_through_save_and_load(tmp_path):
    source, target = fresh_net(1), fresh_net(2)
    with tg.no_grad():
        source.post.running.copy_(tg.tensor([0.5, -1.0, 2.0, 0.0, 1.0]))
    path = tmp_path / "net.tg"
    tg.save(source.state_dict(), path)
    x = tg.randn(6, 4)
    assert not np.allclose(source(x).detach().numpy(), target(x).detach().numpy())
    params_before = list(target.parameters())
    result = target.load_state_dict(tg.load(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    np.testing.assert_array_equal(source(x).detach().numpy(), target(x).detach().numpy())
    assert all(a is b for a, b in zip(params_before, target.parameters()))  # copied in place


def test_load_state_dict_lists_every_problem_by_name_and_changes_nothing():
    net = fresh_net(3)
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    sd = {k: v.numpy() + 1 for k, v in fresh_net(4).state_dict().items()}
    del sd["post.scale"], sd["head.weight"]
    sd["extra.weight"] = np.zeros(3, dtype=np.float32)
    sd["features.2.weight"] = np.zeros((5, 7), dtype=np.float32)
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(sd)
    message = str(error.value)
    assert message.startswith("Error(s) in loading state_dict for Net:")
    assert 'Missing key(s) in state_dict: "post.scale", "head.weight".' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in message
    assert ("size mismatch for features.2.weight: copying a param with shape (5, 7), "
            "the shape in current model is (5, 8)") in message
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_size_mismatch_raises_even_when_not_strict():
    lin = nn.Linear(4, 10)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with "
                                           r"shape \(10, 5\), the shape in current model is "
                                           r"\(10, 4\)"):
        lin.load_state_dict({"weight": np.zeros((10, 5))}, strict=False)


def test_load_state_dict_not_strict_returns_missing_and_unexpected_keys():
    net = fresh_net(5)
    donor = fresh_net(6)
    sd = donor.state_dict()
    del sd["head.weight"]
    sd["bogus"] = tg.zeros(1)
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["head.weight"]
    assert result.unexpected_keys == ["bogus"]
    missing, unexpected = result   # a named tuple
    assert missing == ["head.weight"]
    np.testing.assert_array_equal(net.features[0].weight.detach().numpy(),
                                  donor.features[0].weight.detach().numpy())


def test_numpy_state_dict_loads_and_casts_to_the_parameter_dtype():
    lin = nn.Linear(3, 2)
    w = np.arange(6, dtype=np.float64).reshape(2, 3)
    lin.load_state_dict({"weight": w, "bias": np.array([1.0, -1.0])})
    assert lin.weight.dtype == tg.float32
    np.testing.assert_array_equal(lin.weight.detach().numpy(), w.astype(np.float32))
    out = lin(tg.ones(1, 3))
    np.testing.assert_allclose(out.detach().numpy(), [[4.0, 11.0]])


def test_load_state_dict_rejects_values_that_are_not_arrays():
    with pytest.raises(TypeError, match='"weight" is a list'):
        nn.Linear(1, 1).load_state_dict({"weight": [[1.0]], "bias": [0.0]})
    with pytest.raises(TypeError, match="dict-like"):
        nn.Linear(1, 1).load_state_dict([("weight", 1)])


def test_load_state_dict_bumps_versions_so_saved_values_are_checked():
    lin = nn.Linear(2, 2)
    x = tg.randn(3, 2, requires_grad=True)
    y = lin(x).sum()
    lin.load_state_dict(lin.state_dict())   # an in-place change of the weight forward used
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_non_persistent_buffers_move_but_are_not_saved():
    s = Scaler(3)
    assert "scratch" not in s.state_dict()
    s.double()
    assert s.scratch.dtype == tg.float64


# -- modes, grads, apply ---------------------------------------------------------------------------
def test_train_and_eval_set_training_everywhere():
    net = Net()
    assert net.training and net.features[0].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_zero_grad_sets_none_or_zeros_in_place():
    lin = nn.Linear(3, 2)
    lin(tg.randn(4, 3)).sum().backward()
    grad = lin.weight.grad
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is grad and not grad.numpy().any()
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_requires_grad_freezes_and_unfreezes():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    out = net(tg.randn(2, 4))
    assert not out.requires_grad
    net.head.requires_grad_()
    assert net.head.weight.requires_grad and not net.features[0].weight.requires_grad


def test_apply_visits_children_before_the_parent():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "Flatten", "Linear", "Sequential", "Scaler", "Linear", "Net"]

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    net.apply(init_weights)
    assert not net.head.weight.detach().numpy().any()


# -- to / double / cpu -----------------------------------------------------------------------------
def test_to_float64_converts_in_place_keeping_the_parameter_objects():
    net = Net()
    params, buffers = list(net.parameters()), list(net.buffers())
    net(tg.randn(2, 4)).sum().backward()
    assert net.to(tg.float64) is net
    assert all(a is b for a, b in zip(params, net.parameters()))
    assert all(a is b for a, b in zip(buffers, net.buffers()))
    assert all(p.dtype == tg.float64 and p.grad.dtype == tg.float64 for p in net.parameters())
    assert all(b.dtype == tg.float64 for b in net.buffers())
    out = net(tg.randn(2, 4, dtype=tg.float64))
    assert out.dtype == tg.float64
    out.sum().backward()   # grads accumulate into the converted grads
    assert net.float() is net and net.head.weight.dtype == tg.float32
    assert net.head.weight.grad.dtype == tg.float32


def test_to_keeps_integer_buffers_and_refuses_integer_dtypes():
    m = nn.Module()
    m.register_buffer("count", tg.tensor(3))
    m.to(tg.float64)
    assert m.count.dtype == tg.int64
    with pytest.raises(TypeError, match="floating point"):
        m.to(tg.int32)
    assert m.cpu() is m and m.to("cpu", tg.float32) is m
    with pytest.raises(TypeError, match="expects a device, a dtype or a tensor"):
        m.to(3.5)


def test_to_a_tensor_takes_its_device_and_dtype():
    lin = nn.Linear(2, 2)
    lin.to(tg.zeros(1, dtype=tg.float64))
    assert lin.weight.dtype == tg.float64


@pytest.mark.cuda
@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_moves_parameters_buffers_and_grads_in_place():
    net = Net()
    net(tg.randn(2, 4)).sum().backward()
    weight = net.head.weight
    net.cuda()
    assert net.head.weight is weight and weight.device == tg.device("cuda:0")
    assert weight.grad.device == tg.device("cuda:0")
    assert net.post.scratch.device == tg.device("cuda:0")
    out = net(tg.randn(2, 4, device="cuda"))
    out.sum().backward()
    net.cpu()
    assert weight.device == tg.device("cpu")


def test_deepcopy_of_a_model_copies_its_parameters():
    model = nn.Sequential(nn.Linear(2, 2))
    twin = copy.deepcopy(model)
    assert twin[0].weight is not model[0].weight and isinstance(twin[0].weight, nn.Parameter)
    np.testing.assert_array_equal(twin[0].weight.detach().numpy(), model[0].weight.detach().numpy())
    with tg.no_grad():
        twin[0].weight.zero_()
    assert model[0].weight.detach().numpy().any()


def test_deepcopy_of_a_parameter_is_independent():
    p = nn.Parameter(tg.ones(3))
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad
    with tg.no_grad():
        q.add_(1)
    assert p.tolist() == [1.0, 1.0, 1.0]


# -- hooks -----------------------------------------------------------------------------------------
def test_forward_pre_hook_can_replace_the_input_and_be_removed():
    lin = nn.Linear(2, 2)
    calls = []
    handle = lin.register_forward_pre_hook(lambda m, args: calls.append(args) or (args[0] * 0,))
    out = lin(tg.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), lin.bias.detach().numpy()[None])
    assert calls[0][0].tolist() == [[1.0, 1.0]]
    handle.remove()
    lin(tg.ones(1, 2))
    assert len(calls) == 1


def test_forward_pre_hook_may_return_a_single_value_and_use_kwargs():
    lin = nn.Linear(2, 2)
    lin.register_forward_pre_hook(lambda m, args: args[0] * 0)
    np.testing.assert_allclose(lin(tg.ones(1, 2)).detach().numpy(), lin.bias.detach().numpy()[None])

    class Add(nn.Module):
        def forward(self, x, y=0):
            return x + y
    add = Add()
    add.register_forward_pre_hook(lambda m, args, kwargs: (args, {"y": kwargs["y"] * 10}),
                                  with_kwargs=True)
    assert add(tg.ones(1), y=tg.ones(1)).tolist() == [11.0]


def test_forward_hook_sees_input_and_output_and_may_replace_the_output():
    lin = nn.Linear(2, 3)
    seen = {}

    def hook(module, args, output):
        seen.update(module=module, args=args, output=output)
        return output * 2
    lin.register_forward_hook(hook)
    x = tg.randn(4, 2)
    out = lin(x)
    assert seen["module"] is lin and seen["args"][0] is x
    np.testing.assert_allclose(out.detach().numpy(), 2 * seen["output"].detach().numpy())


def test_hooks_run_in_registration_order_and_prepend_goes_first():
    lin, order = nn.Linear(1, 1), []
    lin.register_forward_hook(lambda *a: order.append("first"))
    lin.register_forward_hook(lambda *a: order.append("second"))
    lin.register_forward_hook(lambda *a: order.append("prepended"), prepend=True)
    lin(tg.ones(1, 1))
    assert order == ["prepended", "first", "second"]


def test_full_backward_hook_sees_gradients_of_inputs_and_outputs():
    tg.manual_seed(0)
    lin = nn.Linear(3, 2)
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((m, gi, go)))
    x = tg.randn(4, 3, requires_grad=True)
    c = tg.randn(4, 2)
    (lin(x) * c).sum().backward()
    assert len(seen) == 1
    module, grad_input, grad_output = seen[0]
    assert module is lin and len(grad_input) == 1 and len(grad_output) == 1
    w = lin.weight.detach().numpy()
    np.testing.assert_allclose(grad_output[0].numpy(), c.numpy(), rtol=1e-6)
    np.testing.assert_allclose(grad_input[0].numpy(), c.numpy() @ w, rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), c.numpy() @ w, rtol=1e-5)
    np.testing.assert_allclose(lin.weight.grad.numpy(), c.numpy().T @ x.detach().numpy(),
                               rtol=1e-5)


def test_full_backward_hook_can_replace_grad_input():
    lin = nn.Linear(3, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    x = tg.randn(4, 3, requires_grad=True)
    lin(x).sum().backward()
    assert not x.grad.numpy().any()
    assert lin.bias.grad.tolist() == [4.0, 4.0]   # parameter gradients are not affected


def test_full_backward_hook_without_input_gradients_gets_none():
    lin = nn.Linear(3, 2)
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go)))
    lin(tg.randn(4, 3)).sum().backward()
    grad_input, grad_output = seen[0]
    assert grad_input == (None,)
    assert grad_output[0].tolist() == [[1.0, 1.0]] * 4


def test_full_backward_hook_on_a_nested_model_and_non_tensor_arguments():
    class Mix(nn.Module):
        def forward(self, a, factor, b):
            return a * factor + b, factor

    mix = Mix()
    seen = []
    mix.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go)))
    a = tg.ones(2, requires_grad=True)
    b = tg.ones(2)
    out, _ = mix(a, 3.0, b)
    out.sum().backward()
    grad_input, grad_output = seen[0]
    assert len(grad_input) == 3 and grad_input[1] is None and grad_input[2] is None
    assert grad_input[0].tolist() == [3.0, 3.0]
    assert len(grad_output) == 2 and grad_output[1] is None


def test_full_backward_pre_hook_can_replace_grad_output():
    lin = nn.Linear(2, 2)
    lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 0,))
    x = tg.randn(3, 2, requires_grad=True)
    lin(x).sum().backward()
    assert not x.grad.numpy().any()


def test_backward_hook_returning_the_wrong_number_of_gradients_raises():
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    x = tg.randn(3, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid number of grad_input, got 2, but expected 1"):
        lin(x).sum().backward()


def test_backward_hooks_do_nothing_under_no_grad():
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda *a: pytest.fail("called"))
    with tg.no_grad():
        assert not lin(tg.randn(1, 2)).requires_grad


# -- repr ------------------------------------------------------------------------------------------
def test_repr_prints_the_module_tree_as_pytorch_does():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(784, 256), nn.Flatten(),
                                         nn.Sequential(nn.Identity()))
            self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2)])
            self.empty = nn.Sequential()
            self.head = nn.Linear(256, 10, bias=False)
            self.missing = None

        def forward(self, x):
            return x

    model = Model()
    model.register_module("gone", None)
    expected = (
        "Model(\n"
        "  (encoder): Sequential(\n"
        "    (0): Linear(in_features=784, out_features=256, bias=True)\n"
        "    (1): Flatten(start_dim=1, end_dim=-1)\n"
        "    (2): Sequential(\n"
        "      (0): Identity()\n"
        "    )\n"
        "  )\n"
        "  (blocks): ModuleList(\n"
        "    (0-1): 2 x Linear(in_features=4, out_features=4, bias=True)\n"
        "    (2): Linear(in_features=4, out_features=2, bias=True)\n"
        "  )\n"
        "  (empty): Sequential()\n"
        "  (head): Linear(in_features=256, out_features=10, bias=False)\n"
        "  (gone): None\n"
        ")")
    assert repr(model) == expected
    assert str(model) == expected


def test_repr_with_a_multi_line_extra_repr_and_children():
    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Identity()

        def extra_repr(self):
            return "alpha=1,\nbeta=2"

    assert repr(Custom()) == "Custom(\n  alpha=1,\n  beta=2\n  (inner): Identity()\n)"


def test_parameter_repr_and_construction():
    p = nn.Parameter(tg.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert p.is_leaf and p.requires_grad
    frozen = nn.Parameter(tg.zeros(2), requires_grad=False)
    assert not frozen.requires_grad
    assert nn.Parameter().shape == (0,)
    with pytest.raises(TypeError, match="expects a Tensor"):
        nn.Parameter([1.0])
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(tg.tensor([1, 2]))


def test_parameter_shares_memory_with_its_data():
    data = tg.zeros(3)
    p = nn.Parameter(data)
    with tg.no_grad():
        p.add_(1)
    assert data.tolist() == [1.0, 1.0, 1.0]
    made = tg.ones(2, requires_grad=True) * 2
    assert nn.Parameter(made).is_leaf
