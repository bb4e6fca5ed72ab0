"""Building an ONNX graph from a trace: names for tensors, constants, nodes.

``GraphBuilder`` is what the converters of ``ops_to_onnx.py`` write into. It knows

* the name of every tensor seen so far: graph inputs, the outputs of converted
  operations, the model's parameters and buffers (initializers under their
  ``named_parameters`` names), and constants (initializers named ``constant_k``);
* each tensor's *twin* in a second trace of the model, run on other input values (and a
  larger size along the dynamic axes). A dim whose size differs between the twins is
  dynamic; a constant whose values differ was computed from the input outside the
  recorded operations, and cannot be frozen into the graph: that is an error, except for
  a tensor filled with one value whose size follows a graph input's dynamic axis (an RNN's
  zero state, tg.zeros(x.shape[0], h)), which is made in the graph from that input's shape.
"""
import numpy as np

from .errors import ExportError


class GraphBuilder:
    def __init__(self, onnx, opset, parameters, buffers, twins):
        self.onnx = onnx
        self.helper = onnx.helper
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self.parameter_names = []       # the initializers that are trainable parameters
        self._names = {}                # id(tensor) -> [name, version counter, version]
        self._arrays = {}               # id(array) -> name: detached copies share the array
        self._used_names = set()
        self._parameters = parameters   # id(tensor) -> (qualified name, tensor)
        self._buffers = buffers
        self._twins = twins             # id(tensor) -> the same tensor in the second trace
        self._constants = {}
        self.op = None                  # the operation being converted (for messages)
        self.inputs = []                # (graph input name, its tensor), for dynamic sizes

    # -- names ----------------------------------------------------------------------------
    def fresh(self, hint):
        name, k = hint, 0
        while name in self._used_names:
            k += 1
            name = f"{hint}_{k}"
        self._used_names.add(name)
        return name

    def bind(self, tensor, name, version=None):
        """``tensor``'s values are the graph value ``name`` from now on (``version``: its
        version counter's (object, value) when it was made)."""
        counter, value = version or (tensor._version_counter, tensor._version_counter.value)
        self._names[id(tensor)] = [name, counter, value]
        self._arrays[id(tensor.array)] = name

    def knows(self, tensor):
        return id(tensor) in self._names

    def value(self, tensor, version=None):
        """The graph value holding ``tensor``: known, a parameter, buffer or constant.
        ``version``: the (counter, value) the reading operation saw, checked against the
        one the tensor had when it was made."""
        entry = self._names.get(id(tensor))
        if entry is not None:
            name, counter, made = entry
            if version is None:   # (the reading operation's versions were checked already)
                return name
            now, value = version
            if counter is now and value != made:
                changed = counter.last_inplace_op or "an in-place operation"
                raise ExportError(
                    f"a tensor of shape {tuple(tensor.shape)} read by '{self.op}' was changed "
                    f"in place by '{changed}' after it was computed, outside the recorded "
                    f"operations; use the out-of-place form (x = x + y rather than x += y)")
            if counter is not now:   # it became a view of its input: count from here
                entry[1], entry[2] = now, value
            return name
        if id(tensor) in self._parameters or id(tensor) in self._buffers:
            qualified, _ = self._parameters.get(id(tensor)) or self._buffers[id(tensor)]
            name = self.fresh(qualified)
            self._add_initializer(name, tensor.array)
            if id(tensor) in self._parameters:
                self.parameter_names.append(name)
            self.bind(tensor, name)
            return name
        if id(tensor.array) in self._arrays:   # x.detach(), x.data: the same values
            return self._arrays[id(tensor.array)]
        name = self._filled_of_dynamic_size(tensor)
        if name is None:
            self._check_constant(tensor)
            name = self.constant(tensor.array)
        self.bind(tensor, name)
        return name

    def _filled_of_dynamic_size(self, tensor):
        """ConstantOfShape for a tensor filled with one value whose dynamic dims each have
        the size of a graph input's dynamic dim (in both traces); None for anything else."""
        twin = self._twins.get(id(tensor))
        if (twin is None or twin is tensor or twin.ndim != tensor.ndim or tensor.array.size == 0
                or tuple(twin.shape) == tuple(tensor.shape)):
            return None
        values, twin_values = np.asarray(tensor.array), np.asarray(twin.array)
        first = values.reshape(-1)[0]
        if not (np.all(values == first) and twin_values.size and np.all(twin_values == first)):
            return None
        sizes = []
        for size, twin_size in zip(tensor.shape, twin.shape):
            if size == twin_size:
                sizes.append(self.ints([size]))
                continue
            source = next(((name, axis) for name, x in self.inputs
                           for axis, (a, b) in enumerate(zip(x.shape, self.twin_shape(x)))
                           if (a, b) == (size, twin_size)), None)
            if source is None:
                return None
            shape = self.node("Shape", [source[0]])
            sizes.append(self.node("Gather", [shape, self.ints([source[1]])], axis=0))
        target = self.node("Concat", sizes, axis=0)
        fill = self.helper.make_tensor("value", self.onnx.helper.np_dtype_to_tensor_dtype(
            values.dtype), [1], [first.item()])
        return self.node("ConstantOfShape", [target], value=fill)

    def _check_constant(self, tensor):
        twin = self._twins.get(id(tensor))
        if twin is None or twin is tensor:
            return
        same = (tuple(twin.shape) == tuple(tensor.shape)
                and np.array_equal(np.asarray(twin.array), np.asarray(tensor.array),
                                   equal_nan=True))
        if not same:
            raise ExportError(
                f"'{self.op}' reads a tensor of shape {tuple(tensor.shape)} that was computed "
                f"from the input outside the recorded operations (with numpy, by an operation "
                f"that is not recorded, or made with a size taken from the input, as "
                f"tg.zeros(x.shape[0], …)); it changes with the input (a run with other values "
                f"or sizes gave one of shape {tuple(twin.shape)}), so it cannot be frozen into "
                f"the graph as a constant")

    def dynamic_dims(self, tensor):
        """For each dim of ``tensor``: True when its size differs in the second trace."""
        twin = self._twins.get(id(tensor))
        if twin is None or twin.ndim != tensor.ndim:
            return (False,) * tensor.ndim
        return tuple(a != b for a, b in zip(tensor.shape, twin.shape))

    def twin_shape(self, tensor):
        twin = self._twins.get(id(tensor))
        return tuple(tensor.shape) if twin is None else tuple(twin.shape)

    # -- constants and nodes --------------------------------------------------------------
    def _add_initializer(self, name, array):
        array = np.array(array, order="C")   # (ascontiguousarray would make 0-d arrays 1-d)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))

    def constant(self, value, dtype=None):
        """An initializer holding ``value`` (an array or a number, as ``dtype``); equal small
        constants share one initializer."""
        array = np.asarray(value, dtype=dtype)
        key = None
        if array.size <= 16:
            key = (array.dtype.str, array.shape, array.tobytes())
            if key in self._constants:
                return self._constants[key]
        name = self.fresh("constant")
        self._add_initializer(name, array)
        if key is not None:
            self._constants[key] = name
        return name

    def ints(self, values):
        """A 1-d int64 constant (shapes, axes, starts …)."""
        return self.constant(np.asarray(list(values), dtype=np.int64).reshape(-1))

    def node(self, op_type, inputs, outputs=1, **attributes):
        """Add one node; returns its output name (or the list of names when outputs > 1)."""
        names = [self.fresh(f"{op_type.lower()}_out") for _ in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), names,
                                                name=self.fresh(op_type), **attributes))
        return names[0] if outputs == 1 else names

    # -- helpers the converters share -----------------------------------------------------
    def reduce(self, op_type, x, axes, keepdim):
        """ReduceX over ``axes`` (attribute or input, depending on the opset)."""
        if not axes:
            return self.node("Identity", [x])
        keep = int(bool(keepdim))
        axes_as_input = op_type == "ReduceSum" or self.opset >= 18
        if axes_as_input:
            return self.node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=list(axes), keepdims=keep)

    def unsqueeze(self, x, axes):
        return self.node("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x, axes):
        return self.node("Squeeze", [x, self.ints(axes)])

    def reshape_target(self, x_tensor, out_tensor):
        """The shape input of a Reshape from x to out that holds at every size of the
        dynamic axes: static dims as they are, a dynamic dim that keeps the input's size at
        the same position as 0 (copy), one other dynamic dim as -1 (inferred)."""
        shape, dynamic = tuple(out_tensor.shape), self.dynamic_dims(out_tensor)
        in_shape, in_twin = tuple(x_tensor.shape), self.twin_shape(x_tensor)
        out_twin = self.twin_shape(out_tensor)
        target, inferred = [], []
        for i, size in enumerate(shape):
            if size == 0:
                raise ExportError(f"'{self.op}' to shape {shape}: empty dimensions cannot be "
                                  f"exported")
            if not dynamic[i]:
                target.append(size)
            elif i < len(in_shape) and in_shape[i] == size and in_twin[i] == out_twin[i]:
                target.append(0)
            else:
                target.append(-1)
                inferred.append(i)
        if len(inferred) > 1:
            raise ExportError(f"'{self.op}' to shape {shape}: dims {inferred} both depend on the "
                              f"dynamic axes; only one can be inferred in the exported graph")
        return self.ints(target)
