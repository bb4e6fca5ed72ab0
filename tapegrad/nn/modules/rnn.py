"""Recurrent layers: ``RNN``, ``LSTM`` and ``GRU`` read a whole sequence; ``RNNCell``,
``LSTMCell`` and ``GRUCell`` compute one step. Their equations, and how the time loop is
kept cheap, are in ``nn/functional/rnn.py``.

Parameters have PyTorch's names, shapes, order and initialisation, so a PyTorch
state_dict converted to numpy arrays loads unchanged: for layer k (and ``_reverse`` for
the backward direction of a bidirectional layer)

    weight_ih_l{k}  (gates·hidden_size, in)      in = input_size for layer 0,
    weight_hh_l{k}  (gates·hidden_size, hidden_size)  else hidden_size·directions
    bias_ih_l{k}, bias_hh_l{k}  (gates·hidden_size,)

with gates = 1 (RNN), 4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n), all drawn from
U(-1/√hidden_size, 1/√hidden_size). The cells name theirs weight_ih, weight_hh, bias_ih,
bias_hh.
"""
import math
import numbers
import warnings

from ... import creation
from ...autograd.tensor import Tensor
from .. import init
from ..functional import rnn as recurrent
from ..module import Module
from ..parameter import Parameter
from ..functional.checks import shape_of



def _check_sizes(input_size, hidden_size, num_layers=1):
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if input_size < 0:
        raise ValueError(f"input_size must not be negative, got {input_size}")


def _reset_uniformly(module):
    """Every parameter from U(-1/√hidden_size, 1/√hidden_size), PyTorch's reset_parameters."""
    bound = 1.0 / math.sqrt(module.hidden_size)
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound)


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters of every layer and direction, the
    checks of the input and initial state, and the forward through ``functional.rnn``.
    ``mode`` is "RNN_TANH", "RNN_RELU", "LSTM" or "GRU"."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        if mode not in recurrent.MODES:
            raise ValueError(f"Unrecognized RNN mode: {mode!r} (expected one of "
                             f"{', '.join(recurrent.MODES)})")
        _check_sizes(input_size, hidden_size, num_layers)
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        if proj_size:
            raise NotImplementedError("LSTM with proj_size > 0 (projected hidden states) is not "
                                      "implemented in tapegrad")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = recurrent.GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []   # the parameter names of each layer and direction
        # Registered in PyTorch's order, so state_dict keys come out in PyTorch's order.
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (gate_size, layer_input_size)),
                          ("weight_hh", (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                names = []
                for kind, shape in shapes:
                    setattr(self, kind + suffix, Parameter(creation.empty(shape, device=device,
                                                                          dtype=dtype)))
                    names.append(kind + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniformly(self)

    @property
    def all_weights(self):
        """The parameters as a list per layer and direction: [[w_ih, w_hh, b_ih, b_hh], …]."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self):
        """Does nothing: PyTorch uses it to pack weights for cuDNN. Kept so code that calls
        it runs unchanged."""

    def _weights(self):
        """(w_ih, w_hh, b_ih, b_hh) per layer and direction; the biases are None without bias."""
        params = self._parameters
        return [(params[names[0]], params[names[1]],
                 params[names[2]] if self.bias else None, params[names[3]] if self.bias else None)
                for names in self._all_weights]

    def _describe(self):
        return f"{self._get_name()}({self.extra_repr()})"

    # -- checking what forward is given --------------------------------------------------------
    def _check_input(self, input):
        """Returns whether ``input`` is batched (3-D) or a single sequence (2-D)."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()}: input must be a Tensor, got "
                            f"{type(input).__name__}")
        layout = "(N, L, input_size)" if self.batch_first else "(L, N, input_size)"
        if input.ndim not in (2, 3):
            raise ValueError(f"{self._describe()}: expected input to be 2-D (L, input_size) or "
                             f"3-D {layout}, got {input.ndim}-D of shape {shape_of(input)}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{self._describe()}: input.size(-1) must be equal to input_size. "
                               f"Expected {self.input_size}, got {input.shape[-1]} (input of "
                               f"shape {shape_of(input)})")
        time_dim = 1 if self.batch_first and input.ndim == 3 else 0
        if input.shape[time_dim] == 0:
            raise RuntimeError(f"{self._describe()}: the input sequence is empty (input of shape "
                               f"{shape_of(input)}, length 0)")
        weight = self._parameters[self._flat_weights_names[0]]
        if input.dtype is not weight.dtype:
            raise RuntimeError(f"{self._describe()}: input is {input.dtype.name} but the layer's "
                               f"weights are {weight.dtype.name}; convert one of them (x.float(), "
                               f"or the layer with .double())")
        return input.ndim == 3

    def _check_state(self, name, state, batched, batch_size):
        """``state`` (h_0 or c_0) checked against (num_layers·directions, N, hidden_size)."""
        if not isinstance(state, Tensor):
            raise TypeError(f"{self._describe()}: {name} must be a Tensor, got "
                            f"{type(state).__name__}")
        expected = (self.num_layers * (2 if self.bidirectional else 1), batch_size,
                    self.hidden_size)
        if not batched:
            expected = expected[:1] + expected[2:]
        if shape_of(state) != expected:
            what = ("(num_layers·num_directions, N, hidden_size)" if batched
                    else "(num_layers·num_directions, hidden_size) for a 2-D, unbatched input")
            raise RuntimeError(f"{self._describe()}: expected {name} of shape {expected} = "
                               f"{what}, got {shape_of(state)}")

    def _initial_states(self, hx, batched, batch_size):
        """``hx`` checked, as a tuple of the states the cell carries (h, or h and c)."""
        if hx is None:
            return None
        names = ("h_0", "c_0") if self.mode == "LSTM" else ("h_0",)
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{self._describe()}: hx must be a tuple (h_0, c_0) of two "
                                f"tensors, got {type(hx).__name__}")
            states = tuple(hx)
        else:
            states = (hx,)
        for name, state in zip(names, states):
            self._check_state(name, state, batched, batch_size)
        return states

    def _zero_states(self, input, batch_size):
        shape = (self.num_layers * (2 if self.bidirectional else 1), batch_size, self.hidden_size)
        return creation.zeros(shape, dtype=input.dtype, device=input.device)

    # -- forward -------------------------------------------------------------------------------
    def forward(self, input, hx=None):
        """(output, h_n), for LSTM (output, (h_n, c_n)); see ``functional.rnn.rnn``."""
        batched = self._check_input(input)
        batch_dim = 0 if self.batch_first else 1
        batch_size = input.shape[batch_dim] if batched else 1
        states = self._initial_states(hx, batched, batch_size)
        if not batched:   # a single sequence (L, input_size) is a batch of one
            input = input.unsqueeze(batch_dim)
            states = None if states is None else tuple(s.unsqueeze(1) for s in states)
        if states is None and input.shape[1 if self.batch_first else 0] == 1:
            # One step from h = 0 would skip W_hh and leave its gradient None; PyTorch gives
            # zeros (and optimizers treat the two differently), so pass the zeros.
            states = (self._zero_states(input, batch_size),) * (2 if self.mode == "LSTM" else 1)
        if states is not None:
            states = states if self.mode == "LSTM" else states[0]
        output, hidden = recurrent.rnn(self.mode, input, states, self._weights(),
                                       self.num_layers, self.dropout, self.training,
                                       self.bidirectional, self.batch_first)
        if not batched:
            output = output.squeeze(batch_dim)
            hidden = (tuple(h.squeeze(1) for h in hidden) if self.mode == "LSTM"
                      else hidden.squeeze(1))
        return output, hidden

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``:
    hₜ = tanh(W_ih xₜ + b_ih + W_hh hₜ₋₁ + b_hh) (or relu) for every step t of a sequence,
    through ``num_layers`` stacked layers.

    ``rnn(x, h_0=None)`` with x (L, N, input_size) (or (N, L, input_size) with batch_first,
    or (L, input_size) for one sequence) returns (output, h_n): output holds the last
    layer's hₜ for every t, (L, N, directions·hidden_size), h_n every layer's last state,
    (num_layers·directions, N, hidden_size). ``dropout`` acts between layers, in training.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``: long short-term memory (gates i, f, g, o).

    ``lstm(x, (h_0, c_0))`` (or ``lstm(x)``: zeros) returns (output, (h_n, c_n)), shapes as
    for RNN. ``proj_size`` is not implemented (NotImplementedError).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False)``: gated recurrent unit (gates r, z, n).

    ``gru(x, h_0=None)`` returns (output, h_n), shapes as for RNN.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)


# -- cells: one time step ------------------------------------------------------------------------
class RNNCellBase(Module):
    """What the cells share: weight_ih (chunks·hidden, input_size), weight_hh
    (chunks·hidden, hidden), bias_ih and bias_hh (chunks·hidden,), and the input checks."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(creation.empty((gate_size, input_size), device=device,
                                                  dtype=dtype))
        self.weight_hh = Parameter(creation.empty((gate_size, hidden_size), device=device,
                                                  dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(gate_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(gate_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniformly(self)

    def _describe(self):
        return f"{self._get_name()}({self.extra_repr()})"

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _zero_state(self, input):
        """h = 0 for a batched input (N, input_size). Passed as a tensor, not None, so that
        weight_hh takes part and gets a zero gradient rather than None, as in PyTorch."""
        return creation.zeros((input.shape[0], self.hidden_size), dtype=input.dtype,
                              device=input.device)

    def _check(self, input, states, names):
        """Check the input (input_size,) or (N, input_size) and each given state against
        (hidden_size,) or (N, hidden_size); returns whether the input is batched."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._describe()}: input must be a Tensor, got "
                            f"{type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{self._describe()}: expected input to be 1-D (input_size,) or "
                             f"2-D (N, input_size), got {input.ndim}-D of shape {shape_of(input)}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{self._describe()}: input has inconsistent input_size: got "
                               f"{input.shape[-1]} expected {self.input_size} (input of shape "
                               f"{shape_of(input)})")
        if input.dtype is not self.weight_ih.dtype:
            raise RuntimeError(f"{self._describe()}: input is {input.dtype.name} but the cell's "
                               f"weights are {self.weight_ih.dtype.name}; convert one of them "
                               f"(x.float(), or the cell with .double())")
        expected = shape_of(input)[:-1] + (self.hidden_size,)
        for name, state in zip(names, states):
            if not isinstance(state, Tensor):
                raise TypeError(f"{self._describe()}: {name} must be a Tensor, got "
                                f"{type(state).__name__}")
            if shape_of(state) != expected:
                raise RuntimeError(f"{self._describe()}: expected {name} of shape {expected} "
                                   f"for an input of shape {shape_of(input)}, got {shape_of(state)}")
        return input.ndim == 2


class RNNCell(RNNCellBase):
    """``RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh')``:
    h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu); ``cell(x, h=None)`` (None: zeros)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        batched = self._check(input, () if hx is None else (hx,), ("hx",))
        if not batched:
            input, hx = input.unsqueeze(0), None if hx is None else hx.unsqueeze(0)
        hx = self._zero_state(input) if hx is None else hx
        cell = recurrent.rnn_tanh_cell if self.nonlinearity == "tanh" else recurrent.rnn_relu_cell
        h = cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """``LSTMCell(input_size, hidden_size, bias=True)``: one LSTM step;
    ``cell(x, (h, c))`` (or ``cell(x)``: zeros) returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"{self._describe()}: hx must be a tuple (h, c) of two tensors, got "
                            f"{type(hx).__name__}")
        batched = self._check(input, () if hx is None else hx, ("h", "c"))
        if not batched:
            input = input.unsqueeze(0)
            hx = None if hx is None else tuple(s.unsqueeze(0) for s in hx)
        hx = (self._zero_state(input),) * 2 if hx is None else hx
        h, c = recurrent.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                                   self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """``GRUCell(input_size, hidden_size, bias=True)``: one GRU step; ``cell(x, h=None)``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        batched = self._check(input, () if hx is None else (hx,), ("hx",))
        if not batched:
            input, hx = input.unsqueeze(0), None if hx is None else hx.unsqueeze(0)
        hx = self._zero_state(input) if hx is None else hx
        h = recurrent.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                               self.bias_hh)
        return h if batched else h.squeeze(0)


__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]
