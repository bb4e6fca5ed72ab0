"""L-BFGS: quasi-Newton steps from a small memory of recent steps and gradient changes.

All parameters are seen as one flat vector θ with gradient g. Newton's method would step
by −H g with H the inverse Hessian; L-BFGS builds H g from the last m pairs

    sₖ = θₖ₊₁ − θₖ,   yₖ = gₖ₊₁ − gₖ,   ρₖ = 1 / yₖᵀsₖ     (a pair is kept only if yₖᵀsₖ > 1e-10)

by the two-loop recursion (Nocedal & Wright, Numerical Optimization, Algorithm 7.4):

    q ← −g;  for k newest → oldest:  αₖ = ρₖ sₖᵀq,  q ← q − αₖ yₖ
    r ← γ q,  γ = sᵀy / yᵀy of the newest pair (1 before there is one)
    for k oldest → newest:  βₖ = ρₖ yₖᵀr,  r ← r + (αₖ − βₖ) sₖ
    d = r,    θ ← θ + t·d

with t = lr, except t = min(1, 1/‖g‖₁)·lr on the very first iteration. With
``line_search_fn="strong_wolfe"`` t is instead searched along d, starting from that
value, until the strong Wolfe conditions hold (Algorithms 3.5 and 3.6, "zoom"):

    f(θ + t d) ≤ f(θ) + c₁ t gᵀd      (enough decrease, c₁ = 1e-4)
    |g(θ + t d)ᵀd| ≤ c₂ |gᵀd|          (the slope has flattened, c₂ = 0.9)

Trial steps come from the minimum of the cubic through two points with their values and
slopes. One ``step(closure)`` runs up to ``max_iter`` of these iterations, calling
``closure`` (which must zero the gradients, recompute the loss, call backward and return
the loss) for every evaluation, at most ``max_eval`` times. It stops early when the
largest gradient entry is ≤ ``tolerance_grad``, or when the step or the change of the loss
is below ``tolerance_change``. The memory (directions, pairs, last gradient) lives in the
state of the first parameter, so ``state_dict()`` saves it and a resumed run continues the
same trajectory, as in PyTorch.
"""
import math

from .. import backend
from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor, wrap
from .optimizer import Optimizer, check_non_negative


# -- the line search -------------------------------------------------------------------------------
def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """Where the cubic through (x1, f1) with slope g1 and (x2, f2) with slope g2 has its
    minimum, clipped to ``bounds`` (default: between x1 and x2). Without a real minimum,
    the middle of the bounds."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        minimum = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        minimum = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(minimum, low), high)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step t along d satisfying the strong Wolfe conditions (see the module docstring).

    ``evaluate(t)`` returns (f, g) at θ + t·d; f, g and gtd = gᵀd are their values at t = 0.
    Phase 1 (bracketing) grows t until an interval is known to contain such a step; phase 2
    (zoom) shrinks that interval. Returns (f, g, t, number of evaluations).
    """
    d_norm = float(abs(d).max())
    f_new, g_new = evaluate(t)
    evaluations = 1
    gtd_new = float(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    # Phase 1: [t_prev, t] brackets a good step once t is too long (not enough decrease, or
    # no better than the previous trial) or the slope has turned non-negative.
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:     # both conditions hold at t
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # Still going down steeply: extrapolate, between 1.01·t (roughly) and 10·t.
        longer = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = longer
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:          # out of trials: settle between 0 and the last t
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]

    # Phase 2: zoom. ``low`` indexes the bracket end with the lower loss.
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:   # too small to matter
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0],
                           bracket[1], bracket_f[1], bracket_gtd[1])
        # A trial next to an end of the bracket teaches little: the second time in a row
        # (or when it is on the end), move it 10% of the bracket inside.
        left, right = min(bracket), max(bracket)
        margin = 0.1 * (right - left)
        if min(right - t, t - left) < margin:
            if insufficient_progress or t >= right or t <= left:
                t = right - margin if abs(t - right) < abs(t - left) else left + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            # Not a good enough decrease: t becomes the high end.
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                # The minimum lies between t and the old low end: that end becomes high.
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evaluations


# -- the optimizer ---------------------------------------------------------------------------------
class LBFGS(Optimizer):
    """LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None)

    ``step(closure)`` needs the closure; ``max_eval`` defaults to max_iter·5/4;
    ``line_search_fn`` is None (fixed steps) or "strong_wolfe". One parameter group only.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _check_options(self, options):
        check_non_negative(options, "lr")
        if options["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: only 'strong_wolfe' is supported as line_search_fn (or "
                             f"None), got {options['line_search_fn']!r}")
        for name in ("max_iter", "history_size"):
            value = options[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LBFGS: {name} must be a positive int, got {value!r}")

    # -- the parameters as one flat vector --------------------------------------------------
    def _flat_grad(self):
        """Every parameter's gradient, flattened and concatenated (zeros where it is None)."""
        xp = self._params[0].device.xp
        return xp.concat([xp.zeros(p.array.size, dtype=p.array.dtype) if p.grad is None
                               else p.grad.array.reshape(-1) for p in self._params])

    def _add_to_params(self, step, direction):
        """θ ← θ + step·direction, in place."""
        offset = 0
        for p in self._params:
            size = p.array.size
            p.array += step * direction[offset:offset + size].reshape(p.array.shape)
            offset += size
            p._version_counter.bump("LBFGS.step")

    def _set_params(self, arrays):
        for p, array in zip(self._params, arrays):
            p.array[...] = array
            p._version_counter.bump("LBFGS.step")

    def _evaluate(self, closure):
        with enable_grad():
            loss = closure()
        return loss

    def _evaluate_along(self, closure, start, direction):
        """evaluate(t): (loss, flat gradient) at start + t·direction, leaving θ at start."""
        def evaluate(t):
            self._add_to_params(t, direction)
            loss = float(self._evaluate(closure))
            flat_grad = self._flat_grad()
            self._set_params(start)
            return loss, flat_grad
        return evaluate

    # -- the step ---------------------------------------------------------------------------
    def step(self, closure=None):
        """Up to max_iter L-BFGS iterations; returns the loss from the first closure call."""
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step needs a closure: a function that zeroes the gradients, "
                            "recomputes the loss, calls backward and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search_fn = group["history_size"], group["line_search_fn"]
        self._step_count += 1

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        xp = self._params[0].device.xp
        if float(xp.abs(flat_grad).max()) <= tolerance_grad:   # already optimal
            return orig_loss

        # The memory, as arrays (stored between steps as tensors, so state_dict holds them).
        memory = _unpacked(state)
        d, t = memory.get("d"), memory.get("t")
        old_dirs, old_stps, ro = memory.get("old_dirs"), memory.get("old_stps"), memory.get("ro")
        H_diag, prev_flat_grad = memory.get("H_diag"), memory.get("prev_flat_grad")
        prev_loss = memory.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:         # the first direction ever: steepest descent
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y.dot(s))
                if ys > 1e-10:               # keep the pair only with positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y.dot(y))
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag)
            prev_flat_grad = flat_grad
            prev_loss = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad.dot(d))
            if gtd > -tolerance_change:       # d does not go downhill (enough)
                break

            if line_search_fn is not None:
                start = [p.array.copy() for p in self._params]
                loss, flat_grad, t, ls_evals = _strong_wolfe(
                    self._evaluate_along(closure, start, d), t, d, loss, flat_grad, gtd)
                self._add_to_params(t, d)
                optimal = float(xp.abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_to_params(t, d)
                ls_evals = 0
                optimal = False
                if n_iter != max_iter:        # the last iteration's loss is never needed
                    loss = float(self._evaluate(closure))
                    flat_grad = self._flat_grad()
                    optimal = float(xp.abs(flat_grad).max()) <= tolerance_grad
                    ls_evals = 1
            current_evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or current_evals >= max_eval or optimal:
                break
            if float(xp.abs(d * t).max()) <= tolerance_change:     # the step is negligible
                break
            if abs(loss - prev_loss) < tolerance_change:           # so is the loss change
                break

        device = self._params[0].device
        state["d"] = wrap(d, device)
        state["t"] = t
        state["old_dirs"] = [wrap(v, device) for v in old_dirs]
        state["old_stps"] = [wrap(v, device) for v in old_stps]
        state["ro"] = ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"] = wrap(prev_flat_grad, device)
        state["prev_loss"] = prev_loss
        return orig_loss

    def _loaded_value(self, p, index, name, value):
        """The memory's flat vectors have the length of all parameters together, not p's
        shape: copy them onto p's device in p's dtype."""
        if isinstance(value, list):
            return [self._loaded_value(p, index, name, v) for v in value]
        if not isinstance(value, Tensor) or name not in ("d", "prev_flat_grad", "old_dirs",
                                                         "old_stps"):
            return super()._loaded_value(p, index, name, value)
        array = backend.to_device(value.array, p.device)
        return wrap(array.astype(p.array.dtype, copy=True), p.device)


def _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag):
    """d = −H g by the two-loop recursion over the stored pairs (see the module docstring)."""
    al = [0.0] * len(ro)
    q = -flat_grad
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = float(old_stps[i].dot(q)) * ro[i]
        q -= al[i] * old_dirs[i]
    r = q * H_diag
    for i in range(len(old_dirs)):
        be_i = float(old_dirs[i].dot(r)) * ro[i]
        r += (al[i] - be_i) * old_stps[i]
    return r


def _unpacked(state):
    """The memory with its tensors as arrays."""
    def array(value):
        if isinstance(value, Tensor):
            return value.array
        if isinstance(value, list):
            return [array(v) for v in value]
        return value
    return {name: array(value) for name, value in state.items()}


__all__ = ["LBFGS"]
