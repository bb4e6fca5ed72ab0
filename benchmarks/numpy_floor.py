"""Hand-written plain-numpy training steps: the floor for an engine whose work is numpy calls.

Each class holds its parameters under PyTorch's names (so the same initial weights can be
loaded into tapegrad, PyTorch and these), and has

* ``forward_backward()``: the loss (a float), with every parameter's gradient in
  ``self.grads[name]`` (and, for the single conv layer, the input's in ``self.input_grad``);
* ``update()``: SGD, ``p -= lr·g`` in place;
* ``step()``: both.

They are written as a careful numpy programmer would (see /work/shared/PERF-NOTES.md): every
intermediate and gradient lives in a buffer allocated once and written with ``out=``; the
weights keep PyTorch's (out, in) layout and every weight gradient is produced in it
(dW = dyᵀ x, trap 5); convolutions are im2col + one GEMM per product, in the "flat" im2col
layout (rows of the padded image, the Wp − Wo junk columns computed and dropped; trap 6),
either "merged" (one GEMM over the batch) or "batched" (one GEMM per image); max pooling is
three ``np.maximum`` of stride-2 views (trap 7); RNNs project the inputs of every time step
in one GEMM and compute dW_ih and dW_hh as one GEMM each after the time loop (trap 8).
All float32.
"""
import numpy as np

F32 = np.float32


def _sgd(params, grads, lr):
    for name, p in params.items():
        g = grads[name]
        g *= -lr          # the gradient buffer is rewritten by the next step anyway
        p += g


def _cross_entropy(z, labels, rows):
    """Mean cross entropy of logits z (B, K) (overwritten with ∂loss/∂z) and class labels."""
    batch = z.shape[0]
    z -= z.max(axis=1, keepdims=True)
    picked = z[rows, labels]
    np.exp(z, out=z)
    total = z.sum(axis=1, keepdims=True)
    loss = float(np.log(total[:, 0]).sum() - picked.sum()) / batch
    z *= (1.0 / batch) / total                 # softmax / B
    z[rows, labels] -= F32(1.0 / batch)        # (softmax - onehot) / B
    return loss


class _Dense:
    """y = x Wᵀ + b (+ relu), forward and backward into reused buffers."""

    def __init__(self, params, grads, name, batch, relu):
        self.w, self.b = params[name + ".weight"], params[name + ".bias"]
        self.gw, self.gb = grads[name + ".weight"], grads[name + ".bias"]
        out_features, in_features = self.w.shape
        self.y = np.empty((batch, out_features), F32)
        self.dx = np.empty((batch, in_features), F32)
        self.relu = relu

    def forward(self, x):
        self.x = x
        np.matmul(x, self.w.T, out=self.y)
        self.y += self.b
        if self.relu:
            np.maximum(self.y, 0, out=self.y)
        return self.y

    def backward(self, dy, need_dx=True):
        """dy is ∂loss/∂(output of the relu), changed in place into ∂loss/∂(pre-activation)."""
        if self.relu:
            dy *= self.y > 0
        np.matmul(dy.T, self.x, out=self.gw)
        dy.sum(axis=0, out=self.gb)
        if need_dx:
            np.matmul(dy, self.w, out=self.dx)
            return self.dx
        return None


def _buffers_like(params):
    return {name: np.zeros_like(p) for name, p in params.items()}


class MLP:
    """784-256-128-10 with ReLUs, cross entropy; PyTorch's ``Sequential`` names 0, 2, 4."""

    def __init__(self, params, x, labels, lr):
        self.params = {k: np.array(v, F32) for k, v in params.items()}
        self.grads = _buffers_like(self.params)
        self.x, self.labels, self.lr = x, labels, lr
        self.rows = np.arange(x.shape[0])
        batch = x.shape[0]
        self.layers = [_Dense(self.params, self.grads, "0", batch, True),
                       _Dense(self.params, self.grads, "2", batch, True),
                       _Dense(self.params, self.grads, "4", batch, False)]

    def forward_backward(self):
        h = self.x
        for layer in self.layers:
            h = layer.forward(h)
        loss = _cross_entropy(h, self.labels, self.rows)
        d = h
        for k in range(len(self.layers) - 1, -1, -1):
            d = self.layers[k].backward(d, need_dx=k > 0)
        return loss

    def update(self):
        _sgd(self.params, self.grads, self.lr)

    def step(self):
        self.forward_backward()
        self.update()


# -- convolution: im2col (flat layout) + GEMM -----------------------------------------------------
class _Conv:
    """A stride-1 convolution with zero padding by im2col + GEMM, in the flat layout.

    Output (p, q) of a stride-1 window reads padded-image element (p + i)·Wp + (q + j):
    a plain shift of t = p·Wp + q by i·Wp + j. So for each (c, i, j, n) the column plane
    is ONE contiguous run of L = (Ho − 1)·Wp + Wo values of the padded image, which makes
    the im2col copy fast; the Wp − Wo junk positions per row are computed by the GEMM and
    dropped (forward) or given a zero gradient (backward).
    """

    def __init__(self, params, grads, name, x_shape, padding, layout, need_dx):
        self.w, self.b = params[name + ".weight"], params[name + ".bias"]
        self.gw, self.gb = grads[name + ".weight"], grads[name + ".bias"]
        out_channels, channels, kh, kw = self.w.shape
        batch, channels_, height, width = x_shape
        assert channels == channels_
        self.pad = padding
        hp, wp = height + 2 * padding, width + 2 * padding
        ho, wo = hp - kh + 1, wp - kw + 1
        self.geometry = (batch, channels, height, width, hp, wp, ho, wo, kh, kw, out_channels)
        self.length = (ho - 1) * wp + wo
        self.layout = layout
        self.need_dx = need_dx
        k = channels * kh * kw
        self.image = np.zeros((batch, channels, hp, wp), F32) if padding else None
        if layout == "merged":
            self.columns = np.zeros((channels, kh, kw, batch, ho * wp), F32)
            self.product = np.empty((out_channels, batch, ho, wp), F32)
            self.dy = np.zeros((out_channels, batch, ho, wp), F32)
            self.dcolumns = np.empty((k, batch * ho * wp), F32)
        else:
            self.columns = np.zeros((batch, channels, kh, kw, ho * wp), F32)
            self.product = np.empty((batch, out_channels, ho, wp), F32)
            self.dy = np.zeros((batch, out_channels, ho, wp), F32)
            self.dcolumns = np.empty((batch, k, ho * wp), F32)
            self.gw_per_image = np.empty((batch, out_channels, k), F32)
        self.y = np.empty((batch, out_channels, ho, wo), F32)
        self.dimage = np.zeros((batch, channels, hp * wp), F32) if need_dx else None

    def forward(self, x):
        batch, channels, height, width, hp, wp, ho, wo, kh, kw, out_channels = self.geometry
        p = self.pad
        if p:
            self.image[:, :, p:p + height, p:p + width] = x
            image = self.image
        else:
            image = np.ascontiguousarray(x)
        sn, sc, sy, sx = image.strides
        flat = self.columns.reshape(self.columns.shape[:-1] + (ho * wp,))[..., :self.length]
        if self.layout == "merged":
            view = np.lib.stride_tricks.as_strided(
                image, (channels, kh, kw, batch, self.length), (sc, sy, sx, sn, sx))
            np.copyto(flat, view)
            np.matmul(self.w.reshape(out_channels, -1),
                      self.columns.reshape(channels * kh * kw, batch * ho * wp),
                      out=self.product.reshape(out_channels, batch * ho * wp))
            result = self.product[..., :wo].transpose(1, 0, 2, 3)
        else:
            view = np.lib.stride_tricks.as_strided(
                image, (batch, channels, kh, kw, self.length), (sn, sc, sy, sx, sx))
            np.copyto(flat, view)
            np.matmul(self.w.reshape(out_channels, -1),
                      self.columns.reshape(batch, channels * kh * kw, ho * wp),
                      out=self.product.reshape(batch, out_channels, ho * wp))
            result = self.product[..., :wo]
        np.add(result, self.b.reshape(1, -1, 1, 1), out=self.y)
        return self.y

    def backward(self, dy):
        """(∂loss/∂x or None); fills the weight and bias gradients."""
        batch, channels, height, width, hp, wp, ho, wo, kh, kw, out_channels = self.geometry
        k = channels * kh * kw
        dy.sum(axis=(0, 2, 3), out=self.gb)
        w = self.w.reshape(out_channels, k)
        if self.layout == "merged":
            self.dy[..., :wo] = dy.transpose(1, 0, 2, 3)     # junk columns stay zero
            dy2 = self.dy.reshape(out_channels, batch * ho * wp)
            np.matmul(dy2, self.columns.reshape(k, batch * ho * wp).T,
                      out=self.gw.reshape(out_channels, k))
        else:
            self.dy[..., :wo] = dy
            dy3 = self.dy.reshape(batch, out_channels, ho * wp)
            np.matmul(dy3, self.columns.reshape(batch, k, ho * wp).transpose(0, 2, 1),
                      out=self.gw_per_image)
            self.gw_per_image.sum(axis=0, out=self.gw.reshape(out_channels, k))
        if not self.need_dx:
            return None
        # dx = col2im(Wᵀ dy): each tap's plane added back at its shift (kh·kw adds).
        length = self.length
        image = self.dimage
        image.fill(0)
        if self.layout == "merged":
            np.matmul(w.T, dy2, out=self.dcolumns)
            planes = self.dcolumns.reshape(channels, kh, kw, batch, ho * wp)
            for i in range(kh):
                for j in range(kw):
                    shift = i * wp + j
                    image[:, :, shift:shift + length] += \
                        planes[:, i, j, :, :length].transpose(1, 0, 2)
        else:
            np.matmul(w.T, dy3, out=self.dcolumns)
            planes = self.dcolumns.reshape(batch, channels, kh, kw, ho * wp)
            for i in range(kh):
                for j in range(kw):
                    shift = i * wp + j
                    image[:, :, shift:shift + length] += planes[:, :, i, j, :length]
        p = self.pad
        return image.reshape(batch, channels, hp, wp)[:, :, p:p + height, p:p + width]


class _ReluMaxPool2:
    """relu then 2×2 max pooling (stride 2): the max of four stride-2 views, then relu on
    the (4× smaller) result, which is the same thing."""

    def __init__(self, shape):
        batch, channels, height, width = shape
        self.out = np.empty((batch, channels, height // 2, width // 2), F32)
        self.dx = np.empty(shape, F32)
        self.mask = np.empty(self.out.shape, bool)

    def forward(self, x):
        self.x = x
        out = self.out
        np.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2], out=out)
        np.maximum(out, x[:, :, 1::2, 0::2], out=out)
        np.maximum(out, x[:, :, 1::2, 1::2], out=out)
        np.maximum(out, 0, out=out)
        return out

    def backward(self, dout):
        """Each output's gradient to the position of its maximum (zero where the relu cut).
        Ties between positive floats are left out (they do not happen with these inputs)."""
        dout = dout * (self.out > 0)
        for r in (0, 1):
            for s in (0, 1):
                np.equal(self.x[:, :, r::2, s::2], self.out, out=self.mask)
                np.multiply(dout, self.mask, out=self.dx[:, :, r::2, s::2])
        return self.dx


class LeNet5:
    """conv 6@5×5 pad 2 → relu → pool → conv 16@5×5 → relu → pool → fc 120 → relu → fc 84 →
    relu → fc 10, cross entropy; names as PyTorch's Sequential (0, 3, 7, 9, 11)."""

    def __init__(self, params, x, labels, lr, layouts=("batched", "merged")):
        self.params = {k: np.array(v, F32) for k, v in params.items()}
        self.grads = _buffers_like(self.params)
        self.x, self.labels, self.lr = x, labels, lr
        batch = x.shape[0]
        self.rows = np.arange(batch)
        self.layouts = layouts
        self.conv1 = _Conv(self.params, self.grads, "0", x.shape, 2, layouts[0], need_dx=False)
        self.pool1 = _ReluMaxPool2((batch, 6, 28, 28))
        self.conv2 = _Conv(self.params, self.grads, "3", (batch, 6, 14, 14), 0, layouts[1],
                           need_dx=True)
        self.pool2 = _ReluMaxPool2((batch, 16, 10, 10))
        self.dense = [_Dense(self.params, self.grads, "7", batch, True),
                      _Dense(self.params, self.grads, "9", batch, True),
                      _Dense(self.params, self.grads, "11", batch, False)]

    def forward_backward(self):
        h = self.pool1.forward(self.conv1.forward(self.x))
        h = self.pool2.forward(self.conv2.forward(h))
        h = h.reshape(h.shape[0], -1)
        for layer in self.dense:
            h = layer.forward(h)
        loss = _cross_entropy(h, self.labels, self.rows)
        d = h
        for layer in reversed(self.dense):
            d = layer.backward(d)
        d = self.conv2.backward(self.pool2.backward(d.reshape(self.pool2.out.shape)))
        self.conv1.backward(self.pool1.backward(d))
        return loss

    def update(self):
        _sgd(self.params, self.grads, self.lr)

    def step(self):
        self.forward_backward()
        self.update()


class ConvLayer:
    """One conv layer (names "weight", "bias"), loss = Σ y², the input's gradient too."""

    def __init__(self, params, x, lr, padding=1, layout="merged"):
        self.params = {"0." + k: np.array(v, F32) for k, v in params.items()}
        self.grads = _buffers_like(self.params)
        self.x, self.lr, self.layout = x, lr, layout
        self.conv = _Conv(self.params, self.grads, "0", x.shape, padding, layout, need_dx=True)
        self.dy = np.empty(self.conv.y.shape, F32)
        self.input_grad = None

    def forward_backward(self):
        y = self.conv.forward(self.x)
        loss = float(np.vdot(y, y))
        np.multiply(y, 2, out=self.dy)
        self.input_grad = self.conv.backward(self.dy)
        return loss

    def update(self):
        _sgd(self.params, self.grads, self.lr)

    def step(self):
        self.forward_backward()
        self.update()

    @property
    def named_grads(self):
        return {k[2:]: v for k, v in self.grads.items()}


# -- recurrent networks (trap 8) ------------------------------------------------------------------
class RNNTanh:
    """h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), h_{-1} = 0; loss = mean((h − target)²)
    over all outputs. Names as PyTorch's nn.RNN (weight_ih_l0, …)."""

    def __init__(self, params, x, target, lr):
        self.params = {k: np.array(v, F32) for k, v in params.items()}
        self.grads = _buffers_like(self.params)
        self.x, self.target, self.lr = x, target, lr
        steps, batch, _ = x.shape
        hidden = self.params["weight_hh_l0"].shape[0]
        self.h = np.empty((steps, batch, hidden), F32)     # all outputs (pre-act. buffer too)
        self.da = np.empty((steps, batch, hidden), F32)    # ∂loss/∂(pre-activation), all steps
        self.dh = np.empty((batch, hidden), F32)
        self.bias = np.empty(hidden, F32)

    def forward_backward(self):
        p = self.params
        w_ih, w_hh = p["weight_ih_l0"], p["weight_hh_l0"]
        x, h, da, dh = self.x, self.h, self.da, self.dh
        steps, batch, inputs = x.shape
        hidden = w_hh.shape[0]
        np.add(p["bias_ih_l0"], p["bias_hh_l0"], out=self.bias)
        # all input projections in one GEMM, straight into the output buffer
        np.matmul(x.reshape(steps * batch, inputs), w_ih.T, out=h.reshape(steps * batch, hidden))
        h += self.bias
        w_hh_t = w_hh.T
        np.tanh(h[0], out=h[0])
        for t in range(1, steps):
            h[t] += h[t - 1] @ w_hh_t
            np.tanh(h[t], out=h[t])
        # loss and its gradient for every output at once
        np.subtract(h, self.target, out=da)
        loss = float(np.vdot(da, da)) / da.size
        da *= 2.0 / da.size
        # backward through time: only the h W_hhᵀ part stays in the loop
        for t in range(steps - 1, -1, -1):
            if t < steps - 1:
                da[t] += dh                         # ∂loss/∂h_t from step t + 1
            ht = h[t]
            da[t] *= 1 - ht * ht                   # through tanh
            if t > 0:
                np.matmul(da[t], w_hh, out=dh)
        g = self.grads
        np.matmul(da[1:].reshape(-1, hidden).T, h[:-1].reshape(-1, hidden), out=g["weight_hh_l0"])
        np.matmul(da.reshape(-1, hidden).T, x.reshape(-1, inputs), out=g["weight_ih_l0"])
        da.sum(axis=(0, 1), out=g["bias_ih_l0"])
        np.copyto(g["bias_hh_l0"], g["bias_ih_l0"])
        return loss

    def update(self):
        _sgd(self.params, self.grads, self.lr)

    def step(self):
        self.forward_backward()
        self.update()


class LSTM:
    """PyTorch's LSTM (gates i, f, g, o), h and c start at 0; loss = mean((h − target)²)."""

    def __init__(self, params, x, target, lr):
        self.params = {k: np.array(v, F32) for k, v in params.items()}
        self.grads = _buffers_like(self.params)
        self.x, self.target, self.lr = x, target, lr
        steps, batch, _ = x.shape
        hidden = self.params["weight_hh_l0"].shape[1]
        self.gates = np.empty((steps, batch, 4 * hidden), F32)   # pre-activations, then σ/tanh
        self.dgates = np.empty((steps, batch, 4 * hidden), F32)
        self.c = np.empty((steps, batch, hidden), F32)
        self.tc = np.empty((steps, batch, hidden), F32)           # tanh(c)
        self.h = np.empty((steps, batch, hidden), F32)
        self.dh_out = np.empty((steps, batch, hidden), F32)
        self.dh = np.zeros((batch, hidden), F32)
        self.dc = np.zeros((batch, hidden), F32)
        self.work = np.empty((batch, hidden), F32)
        self.bias = np.empty(4 * hidden, F32)

    def forward_backward(self):
        p = self.params
        w_ih, w_hh = p["weight_ih_l0"], p["weight_hh_l0"]
        x, gates, c, tc, h = self.x, self.gates, self.c, self.tc, self.h
        steps, batch, inputs = x.shape
        H = hidden = w_hh.shape[1]
        np.add(p["bias_ih_l0"], p["bias_hh_l0"], out=self.bias)
        np.matmul(x.reshape(steps * batch, inputs), w_ih.T,
                  out=gates.reshape(steps * batch, 4 * hidden))
        gates += self.bias
        w_hh_t = w_hh.T
        work = self.work
        for t in range(steps):
            a = gates[t]
            if t > 0:
                a += h[t - 1] @ w_hh_t
            g_pre = a[:, 2 * H:3 * H].copy()
            np.negative(a, out=a)                  # σ over all four, then tanh over g
            np.exp(a, out=a)
            a += 1
            np.reciprocal(a, out=a)
            np.tanh(g_pre, out=a[:, 2 * H:3 * H])
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            if t > 0:
                np.multiply(f, c[t - 1], out=c[t])
                np.multiply(i, g, out=work)
                c[t] += work
            else:
                np.multiply(i, g, out=c[t])
            np.tanh(c[t], out=tc[t])
            np.multiply(o, tc[t], out=h[t])
        dh_out = self.dh_out
        np.subtract(h, self.target, out=dh_out)
        loss = float(np.vdot(dh_out, dh_out)) / dh_out.size
        dh_out *= 2.0 / dh_out.size
        dgates, dh, dc = self.dgates, self.dh, self.dc
        for t in range(steps - 1, -1, -1):
            a, da = gates[t], dgates[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            di, df, dg, do = da[:, :H], da[:, H:2 * H], da[:, 2 * H:3 * H], da[:, 3 * H:]
            d = dh_out[t]
            if t < steps - 1:
                d += dh
            np.multiply(d, tc[t], out=do)                    # ∂/∂o
            np.multiply(tc[t], tc[t], out=work)              # ∂/∂c += d·o·(1 − tanh²c)
            np.subtract(1, work, out=work)
            work *= o
            work *= d
            if t < steps - 1:
                dc += work
            else:
                np.copyto(dc, work)
            np.multiply(dc, g, out=di)                       # ∂/∂i
            np.multiply(dc, i, out=dg)                       # ∂/∂g
            if t > 0:
                np.multiply(dc, c[t - 1], out=df)            # ∂/∂f
            else:
                df.fill(0)
            dc *= f                                          # ∂/∂c_{t-1}
            # through the activations: σ' = a(1 − a) on i, f, o; tanh' = 1 − g² on g
            np.multiply(g, g, out=work)
            np.subtract(1, work, out=work)
            dg *= work
            s = np.subtract(1, a, out=self.work4(batch, H))
            s *= a
            s[:, 2 * H:3 * H] = 1
            da *= s
            if t > 0:
                np.matmul(da, w_hh, out=dh)
        gr = self.grads
        np.matmul(dgates[1:].reshape(-1, 4 * H).T, h[:-1].reshape(-1, H), out=gr["weight_hh_l0"])
        np.matmul(dgates.reshape(-1, 4 * H).T, x.reshape(-1, inputs), out=gr["weight_ih_l0"])
        dgates.sum(axis=(0, 1), out=gr["bias_ih_l0"])
        np.copyto(gr["bias_hh_l0"], gr["bias_ih_l0"])
        return loss

    def work4(self, batch, hidden):
        buffer = getattr(self, "_work4", None)
        if buffer is None:
            buffer = self._work4 = np.empty((batch, 4 * hidden), F32)
        return buffer

    def update(self):
        _sgd(self.params, self.grads, self.lr)

    def step(self):
        self.forward_backward()
        self.update()
