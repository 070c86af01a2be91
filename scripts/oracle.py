#!/usr/bin/python3
"""PyTorch oracle: reference values and gradients for rmad, written to test/fixtures/oracle.json.

    /usr/bin/python3 scripts/oracle.py test/fixtures/oracle.json    # regenerate the fixture
    /usr/bin/python3 scripts/oracle.py > test/fixtures/oracle.json  # the same, on stdout
    /usr/bin/python3 scripts/oracle.py --check [test/fixtures/oracle.json]

Needs torch and numpy (Debian: apt-get install python3-torch; use /usr/bin/python3). Only this
script needs them: the fixture is committed, and CI reads it without Python.

`--check` re-evaluates every case with a second, independent interpreter written in numpy
(softmax, gelu, softplus, ... by their formulas, not torch's), compares its value with torch's,
and compares torch's gradients with numpy central differences (eps 1e-6, |a - n| <= 1e-5 +
1e-3 |n|, PyTorch gradcheck's tolerances). Given the fixture's path, it also checks that the
file is byte-identical to what this script writes now. Exit status 1 on any failure.

Fixture format (JSON, keys sorted, floats written by Python's repr: shortest round-trip form)
------------------------------------------------------------------------------------------

    {
      "_meta": {"command": ..., "dtype": "float64", "format": 1, "numpy": ..., "torch": ...,
                "cases": N, "tolerance": {"atol": ..., "rtol": ...}},
      "cases": [CASE, ...]
    }

    CASE = {
      "name":   unique name, e.g. "bcast_col_row",
      "group":  "elementwise" | "scalar" | "broadcast" | "reduction" | "linalg" | "softmax" |
                "stability" | "structure" | "loss" | "model" | "graph",
      "expr":   EXPR (below),
      "inputs": [{"name": "x", "shape": [3, 4], "data": [12 floats], "constant": false}, ...],
      "value":  {"shape": [...], "data": [flat row-major floats]},   the output of expr
      "pull":   null when the output is 0-d; otherwise {"shape": <output shape>, "data": [...]},
      "objective": the scalar differentiated: the output itself when 0-d, else sum(output * pull),
      "grads":  {"x": [flat floats, same shape as input x], ...}  d objective / d input,
                for every input with "constant": false (and none for constant inputs)
    }

Every tensor is float64, dense, row-major; shape [] is a 0-d scalar whose data has one element.
"pull" is exactly the seed gradient of reverse mode: grads == output.grad(pull).wrt(input).
An input the expression never reads still gets a gradient, all zeros (case "unused_input").

EXPR, a prefix form in JSON:
  "x"                        the input named x
  2.0                        a number literal (a scalar constant; never differentiated)
  ["op", ARG, ARG, {...}]    an op; ARGs are EXPRs; a trailing JSON object, if any, holds the
                             op's parameters (never an argument)
Ops (rmad's method names), arity, parameters:
  unary:  neg abs exp log log10 sqrt sin cos tan asin acos atan sinh cosh tanh sigmoid relu
          softplus gelu                         (log is the natural log; gelu is the tanh form
                                                 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))))
          leakyRelu(x, {"slope": s})            x if x > 0 else s x
  binary, NumPy broadcasting: add sub mul div pow maximum minimum
          (either side may be a literal: ["sub", 1.0, "x"], ["pow", "x", 2.0], ["pow", 2.0, "x"])
  matmul(a, b)                                  2-D @ 2-D only
  transpose(x) | transpose(x, {"perm": [...]})  no perm: reverse all axes
  reshape(x, {"shape": [...]})                  explicit sizes, no -1
  sum | mean | amax (x) | (x, {"axes": [...], "keepdims": bool})
                                                no axes: all axes, result 0-d (or all-ones
                                                shape with keepdims); keepdims defaults to false
  softmax | logSoftmax (x, {"axis": n})         same shape as x
  logSumExp(x, {"axis": n})                     the axis is removed (no keepdims in the fixture)
  concat([ARG, ...], {"axis": n}),  stack([ARG, ...], {"axis": n})
                                                the first argument is a JSON list of EXPRs (not
                                                an op node, even though it starts with a name)
  slice(x, {"begin": [...], "size": [...]})     one entry per axis, sizes explicit (no -1)
  gather(x, {"indices": [...], "axis": n})      index_select: a 1-D list of ints, repeats allowed
                                                (gradients accumulate); that axis's length
                                                becomes len(indices)
  where(mask, a, b)                             mask is the name of a constant input holding 0.0
                                                and 1.0 (1.0 selects a); broadcasting as above
  clip(x, {"min": lo, "max": hi})
Every axis in the fixture is non-negative.

Inputs are chosen away from every point where an op is not differentiable or not defined: no
relu/abs/leakyRelu input within 1e-3 of 0, no maximum/minimum ties, no amax ties (top two of
each reduced slice differ by at least 1e-3), no clip input within 1e-3 of a bound, logs and
square roots of positive numbers, asin/acos inside (-1, 1), denominators away from 0. The
generator asserts all of this (see GUARDS), so subgradient conventions never matter.
Inputs are rounded to 4 decimals, so their JSON text is the exact float64 both sides use.
Group "stability" uses values like 1000 where a naive exp overflows; skip it for float32.
"""

import json
import math
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)  # reductions in one fixed order, so a regenerated file is identical
DTYPE = torch.float64
MARGIN = 1e-3  # distance kept from kinks and domain edges
COMMAND = "/usr/bin/python3 scripts/oracle.py test/fixtures/oracle.json"
# What a float64 implementation should meet against this file: libm differences and summation
# order change the last few bits, long chains amplify them a little.
TOLERANCE = {"atol": 1e-10, "rtol": 1e-8}


class ExprError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Op table: the parameters each op accepts, and its number of array arguments.

UNARY = ["neg", "abs", "exp", "log", "log10", "sqrt", "sin", "cos", "tan", "asin", "acos",
         "atan", "sinh", "cosh", "tanh", "sigmoid", "relu", "softplus", "gelu"]
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "matmul"]
SIGNATURES = {name: (1, set(), set()) for name in UNARY}
SIGNATURES.update({name: (2, set(), set()) for name in BINARY})
SIGNATURES.update({
    # name: (arity, required parameters, optional parameters)
    "leakyRelu": (1, {"slope"}, set()),
    "transpose": (1, set(), {"perm"}),
    "reshape": (1, {"shape"}, set()),
    "sum": (1, set(), {"axes", "keepdims"}),
    "mean": (1, set(), {"axes", "keepdims"}),
    "amax": (1, set(), {"axes", "keepdims"}),
    "softmax": (1, {"axis"}, set()),
    "logSoftmax": (1, {"axis"}, set()),
    "logSumExp": (1, {"axis"}, set()),
    "concat": (1, {"axis"}, set()),
    "stack": (1, {"axis"}, set()),
    "slice": (1, {"begin", "size"}, set()),
    "gather": (1, {"indices", "axis"}, set()),
    "where": (3, set(), set()),
    "clip": (1, {"min", "max"}, set()),
})
LIST_ARG_OPS = {"concat", "stack"}


def is_literal(e):
    return isinstance(e, (int, float)) and not isinstance(e, bool)


def evaluate(expr, env, ops, on_op=None):
    """Evaluate an EXPR with one backend's op table. on_op(name, args, params, raw_args) sees
    each op's evaluated arguments, and their expressions, before it runs (the guards use it)."""
    if isinstance(expr, str):
        if expr not in env:
            raise ExprError(f"unknown input {expr!r}")
        return env[expr]
    if is_literal(expr):
        return ops["literal"](float(expr))
    if not isinstance(expr, list) or not expr or not isinstance(expr[0], str):
        raise ExprError(f"not an expression: {expr!r}")
    name, rest = expr[0], expr[1:]
    if name not in SIGNATURES:
        raise ExprError(f"unknown op {name!r}")
    params = rest[-1] if rest and isinstance(rest[-1], dict) else {}
    raw_args = rest[:-1] if rest and isinstance(rest[-1], dict) else rest
    arity, required, optional = SIGNATURES[name]
    if len(raw_args) != arity:
        raise ExprError(f"{name}: {len(raw_args)} arguments, expected {arity}")
    keys = set(params)
    if not required <= keys or not keys <= required | optional:
        raise ExprError(f"{name}: parameters {sorted(keys)}, expected {sorted(required)} "
                        f"and optionally {sorted(optional)}")
    if name in LIST_ARG_OPS:
        if not isinstance(raw_args[0], list):
            raise ExprError(f"{name}: the first argument must be a list of expressions")
        args = [[evaluate(e, env, ops, on_op) for e in raw_args[0]]]
    else:
        args = [evaluate(e, env, ops, on_op) for e in raw_args]
    if on_op is not None:
        on_op(name, args, params, raw_args)
    return ops[name](*args, **params)


def all_axes(x, axes):
    return list(range(x.ndim)) if axes is None else list(axes)


# ---------------------------------------------------------------------------------------------
# torch: the source of truth. Built-ins wherever torch has one.

def _t(v):
    return v if torch.is_tensor(v) else torch.tensor(float(v), dtype=DTYPE)


def _torch_reduce(fn):
    def reduce(x, axes=None, keepdims=False):
        return fn(x, dim=all_axes(x, axes), keepdim=keepdims)
    return reduce


def _torch_slice(x, begin, size):
    assert len(begin) == len(size) == x.ndim
    return x[tuple(slice(b, b + s) for b, s in zip(begin, size))]


TORCH_OPS = {
    "literal": _t,
    "neg": torch.neg, "abs": torch.abs, "exp": torch.exp, "log": torch.log,
    "log10": torch.log10, "sqrt": torch.sqrt, "sin": torch.sin, "cos": torch.cos,
    "tan": torch.tan, "asin": torch.asin, "acos": torch.acos, "atan": torch.atan,
    "sinh": torch.sinh, "cosh": torch.cosh, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "relu": torch.relu, "softplus": F.softplus,
    "gelu": lambda x: F.gelu(x, approximate="tanh"),
    "leakyRelu": lambda x, slope: F.leaky_relu(x, negative_slope=slope),
    "add": lambda a, b: torch.add(_t(a), _t(b)),
    "sub": lambda a, b: torch.sub(_t(a), _t(b)),
    "mul": lambda a, b: torch.mul(_t(a), _t(b)),
    "div": lambda a, b: torch.div(_t(a), _t(b)),
    "pow": lambda a, b: torch.pow(_t(a), _t(b)),
    "maximum": lambda a, b: torch.maximum(_t(a), _t(b)),
    "minimum": lambda a, b: torch.minimum(_t(a), _t(b)),
    "matmul": lambda a, b: torch.mm(a, b),
    "transpose": lambda x, perm=None: x.permute(
        *(perm if perm is not None else reversed(range(x.ndim)))),
    "reshape": lambda x, shape: x.reshape(shape),
    "sum": _torch_reduce(torch.sum),
    "mean": _torch_reduce(torch.mean),
    "amax": _torch_reduce(torch.amax),
    "softmax": lambda x, axis: torch.softmax(x, dim=axis),
    "logSoftmax": lambda x, axis: torch.log_softmax(x, dim=axis),
    "logSumExp": lambda x, axis: torch.logsumexp(x, dim=axis),
    "concat": lambda xs, axis: torch.cat(xs, dim=axis),
    "stack": lambda xs, axis: torch.stack(xs, dim=axis),
    "slice": _torch_slice,
    "gather": lambda x, indices, axis: torch.index_select(
        x, axis, torch.tensor(indices, dtype=torch.long)),
    "where": lambda mask, a, b: torch.where(mask != 0, _t(a), _t(b)),
    "clip": lambda x, min, max: torch.clamp(x, min=min, max=max),
}


# ---------------------------------------------------------------------------------------------
# numpy: the independent second opinion used by --check. Written from the formulas.

def _np_softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_logsumexp(x, axis, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_sigmoid(x):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def _np_reduce(fn):
    def reduce(x, axes=None, keepdims=False):
        return fn(x, axis=tuple(all_axes(x, axes)), keepdims=keepdims)
    return reduce


NUMPY_OPS = {
    "literal": np.float64,
    "neg": np.negative, "abs": np.abs, "exp": np.exp, "log": np.log, "log10": np.log10,
    "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin,
    "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "sigmoid": _np_sigmoid,
    "relu": lambda x: np.where(x > 0, x, 0.0),
    "softplus": lambda x: np.logaddexp(0.0, x),
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
    "leakyRelu": lambda x, slope: np.where(x > 0, x, slope * x),
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "pow": np.power, "maximum": np.maximum, "minimum": np.minimum,
    "matmul": lambda a, b: (assert_2d(a, b), a @ b)[1],
    "transpose": lambda x, perm=None: np.transpose(x, perm),
    "reshape": lambda x, shape: np.reshape(x, shape),
    "sum": _np_reduce(np.sum), "mean": _np_reduce(np.mean), "amax": _np_reduce(np.max),
    "softmax": _np_softmax,
    "logSoftmax": lambda x, axis: x - _np_logsumexp(x, axis, keepdims=True),
    "logSumExp": _np_logsumexp,
    "concat": lambda xs, axis: np.concatenate(xs, axis=axis),
    "stack": lambda xs, axis: np.stack(xs, axis=axis),
    "slice": lambda x, begin, size: x[tuple(slice(b, b + s) for b, s in zip(begin, size))],
    "gather": lambda x, indices, axis: np.take(x, indices, axis=axis),
    "where": lambda mask, a, b: np.where(mask != 0, a, b),
    "clip": lambda x, min, max: np.clip(x, min, max),
}


def assert_2d(a, b):
    if np.ndim(a) != 2 or np.ndim(b) != 2:
        raise ExprError("matmul takes 2-D arrays only")


# ---------------------------------------------------------------------------------------------
# Guards: refuse inputs near a kink or a domain edge, where the gradient is a convention.

def _arr(v):
    return v.detach().numpy() if torch.is_tensor(v) else np.float64(v)


def _away(x, point, what):
    gap = np.min(np.abs(np.asarray(x) - point)) if np.size(x) else np.inf
    if gap < MARGIN:
        raise ExprError(f"{what}: an input lies within {gap:.2g} of {point}")


def _guard_amax(x, axes=None, keepdims=False):
    del keepdims
    axes = all_axes(x, axes)
    kept = [i for i in range(x.ndim) if i not in axes]
    rows = np.transpose(x, kept + axes).reshape(-1, int(np.prod([x.shape[i] for i in axes])))
    if rows.shape[1] > 1:
        top = np.sort(rows, axis=1)
        if np.min(top[:, -1] - top[:, -2]) < MARGIN:
            raise ExprError("amax: a near tie for the maximum")


def _guard_pow(a, b, raw_args):
    """A negative base only under a literal integer exponent, as in x ** 2."""
    if is_literal(raw_args[1]) and float(raw_args[1]).is_integer():
        if float(raw_args[1]) < 0:
            _away(a, 0.0, "pow base")
    elif np.min(a) < MARGIN:
        raise ExprError("pow: a base near or below 0 with a non-integer or variable exponent")


def _guard_domain(lo, hi, what):
    def guard(x):
        if np.min(x) < lo + MARGIN or np.max(x) > hi - MARGIN:
            raise ExprError(f"{what}: an input outside ({lo}, {hi})")
    return guard


GUARDS = {
    "abs": lambda x: _away(x, 0.0, "abs"),
    "relu": lambda x: _away(x, 0.0, "relu"),
    "leakyRelu": lambda x, slope: _away(x, 0.0, "leakyRelu"),
    "log": _guard_domain(0.0, np.inf, "log"),
    "log10": _guard_domain(0.0, np.inf, "log10"),
    "sqrt": _guard_domain(0.0, np.inf, "sqrt"),
    "asin": _guard_domain(-1.0, 1.0, "asin"),
    "acos": _guard_domain(-1.0, 1.0, "acos"),
    "tan": lambda x: _away(np.cos(x), 0.0, "tan"),
    "div": lambda a, b: _away(b, 0.0, "div denominator"),
    "maximum": lambda a, b: _away(np.subtract(a, b), 0.0, "maximum tie"),
    "minimum": lambda a, b: _away(np.subtract(a, b), 0.0, "minimum tie"),
    "amax": _guard_amax,
    "clip": lambda x, min, max: (_away(x, min, "clip min"), _away(x, max, "clip max")),
}


def guard(name, args, params, raw_args):
    if name == "pow":
        _guard_pow(*[_arr(a) for a in args], raw_args)
    elif name in GUARDS:
        GUARDS[name](*[_arr(a) for a in args], **params)


# ---------------------------------------------------------------------------------------------
# Cases. Each input is drawn from a generator seeded by the case's name, so adding or removing
# a case leaves every other case's data unchanged.

class Input:
    def __init__(self, name, shape, draw, constant=False):
        self.name, self.shape, self.draw, self.constant = name, list(shape), draw, constant

    def make(self, rng):
        data = np.asarray(self.draw(rng, self.shape), dtype=np.float64).reshape(self.shape)
        return np.round(data, 4) + 0.0  # + 0.0 turns -0.0 into 0.0


def var(name, shape, lo=-2.0, hi=2.0, data=None):
    """A differentiated input: uniform on [lo, hi), or the given data."""
    if data is not None:
        return Input(name, shape, lambda rng, s: data)
    return Input(name, shape, lambda rng, s: rng.uniform(lo, hi, size=s))


def away(name, shape, lo, hi):
    """A differentiated input with |value| uniform on [lo, hi) and a random sign."""
    return Input(name, shape, lambda rng, s: rng.uniform(lo, hi, size=s)
                 * rng.choice([-1.0, 1.0], size=s))


def const(name, shape, data=None, lo=-2.0, hi=2.0):
    """A constant input (data, masks, targets): no gradient expected."""
    draw = (lambda rng, s: data) if data is not None else \
        (lambda rng, s: rng.uniform(lo, hi, size=s))
    return Input(name, shape, draw, constant=True)


def mask(name, shape):
    return Input(name, shape, lambda rng, s: rng.integers(0, 2, size=s), constant=True)


def pm1(name, shape):
    return Input(name, shape, lambda rng, s: rng.choice([-1.0, 1.0], size=s), constant=True)


def onehot(name, rows, classes):
    def draw(rng, s):
        return np.eye(classes)[rng.integers(0, classes, size=rows)]
    return Input(name, [rows, classes], draw, constant=True)


CASES = []


def case(name, group, expr, *inputs):
    CASES.append({"name": name, "group": group, "expr": expr, "inputs": list(inputs)})


def mse(pred, target):
    return ["mean", ["pow", ["sub", pred, target], 2.0]]


def linear(x, w, b):
    return ["add", ["matmul", x, w], b]


def cross_entropy(logits, target):
    return ["neg", ["mean", ["sum", ["mul", target, ["logSoftmax", logits, {"axis": 1}]],
                             {"axes": [1]}]]]


def rnn_step(x, h):
    return ["tanh", ["add", ["add", ["matmul", x, "Wx"], ["matmul", h, "Wh"]], "b"]]


# Elementwise, one op each, on a [3, 4] input inside the op's domain.
UNARY_DOMAINS = {
    "neg": (-2, 2), "abs": (-2, 2), "exp": (-2, 2), "log": (0.2, 3), "log10": (0.2, 3),
    "sqrt": (0.2, 3), "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.2, 1.2), "asin": (-0.9, 0.9),
    "acos": (-0.9, 0.9), "atan": (-3, 3), "sinh": (-2, 2), "cosh": (-2, 2), "tanh": (-2, 2),
    "sigmoid": (-5, 5), "relu": (-2, 2), "softplus": (-4, 4), "gelu": (-3, 3),
}
for op, (lo, hi) in UNARY_DOMAINS.items():
    case(op, "elementwise", [op, "x"], var("x", [3, 4], lo, hi))
case("leakyRelu", "elementwise", ["leakyRelu", "x", {"slope": 0.01}], var("x", [3, 4]))
for op in ["add", "sub", "mul", "maximum", "minimum"]:
    case(op, "elementwise", [op, "a", "b"], var("a", [3, 4]), var("b", [3, 4]))
case("div", "elementwise", ["div", "a", "b"], var("a", [3, 4]), away("b", [3, 4], 0.5, 2))
case("pow", "elementwise", ["pow", "a", "b"], var("a", [3, 4], 0.3, 2.5), var("b", [3, 4]))
case("pow_int_exponent", "elementwise", ["pow", "x", 3.0], var("x", [3, 4]))
case("pow_frac_exponent", "elementwise", ["pow", "x", 1.5], var("x", [3, 4], 0.2, 3))
case("pow_literal_base", "elementwise", ["pow", 2.0, "x"], var("x", [3, 4]))
case("literal_left", "elementwise", ["add", ["sub", 2.0, "x"], ["div", 1.0, "x"]],
     away("x", [3, 4], 0.5, 2))

# 0-d inputs; the first is the README's example, a = 1, x = -1.
case("seed_example", "scalar", ["sigmoid", ["add", ["mul", "a", "x"], 2.0]],
     var("a", [], data=1.0), var("x", [], data=-1.0))
case("scalar_chain", "scalar",
     ["div", ["mul", ["sin", "a"], ["exp", "b"]], ["add", ["pow", "a", 2.0], 1.0]],
     var("a", []), var("b", []))

# Broadcasting: gradients must be summed back to each input's shape.
case("bcast_col_row", "broadcast", ["add", "a", "b"], var("a", [3, 1]), var("b", [1, 4]))
case("bcast_trailing", "broadcast", ["mul", "a", "b"], var("a", [2, 3, 4]), var("b", [4]))
case("bcast_leading", "broadcast", ["sub", "a", "b"], var("a", [4]), var("b", [2, 1, 4]))
case("bcast_div", "broadcast", ["div", "a", "b"], var("a", [2, 3]), away("b", [2, 1], 0.5, 2))
case("bcast_scalar", "broadcast", ["mul", "s", "x"], var("s", []), var("x", [3, 4]))
case("bcast_maximum", "broadcast", ["maximum", "a", "b"], var("a", [3, 1]), var("b", [1, 4]))
case("bcast_pow", "broadcast", ["pow", "a", "b"], var("a", [2, 3], 0.3, 2.5), var("b", [3]))

# Reductions.
case("sum_all", "reduction", ["sum", "x"], var("x", [3, 4]))
case("sum_axis1_keepdims", "reduction", ["sum", "x", {"axes": [1], "keepdims": True}],
     var("x", [3, 4]))
case("sum_axes02", "reduction", ["sum", "x", {"axes": [0, 2]}], var("x", [2, 3, 4]))
case("mean_all", "reduction", ["mean", "x"], var("x", [2, 3, 4]))
case("mean_axis0", "reduction", ["mean", "x", {"axes": [0]}], var("x", [3, 4]))
case("mean_axis1_keepdims", "reduction", ["mean", "x", {"axes": [1], "keepdims": True}],
     var("x", [3, 4]))
case("mean_all_keepdims", "reduction", ["mean", "x", {"keepdims": True}], var("x", [2, 3]))
case("amax_all", "reduction", ["amax", "x"], var("x", [3, 4]))
case("amax_axis1", "reduction", ["amax", "x", {"axes": [1]}], var("x", [3, 4]))
case("amax_axis0_keepdims", "reduction", ["amax", "x", {"axes": [0], "keepdims": True}],
     var("x", [3, 4]))
case("amax_axes12", "reduction", ["amax", "x", {"axes": [1, 2]}], var("x", [2, 3, 4]))

# Linear algebra and layout.
case("matmul", "linalg", ["matmul", "a", "b"], var("a", [3, 4]), var("b", [4, 2]))
case("matmul_chain", "linalg", ["matmul", ["matmul", "a", "b"], "c"],
     var("a", [2, 3]), var("b", [3, 4]), var("c", [4, 2]))
case("linear_wt", "linalg", ["add", ["matmul", "x", ["transpose", "W"]], "b"],
     var("x", [4, 3]), var("W", [2, 3]), var("b", [2]))
case("matmul_transposed_lhs", "linalg", ["matmul", ["transpose", "x"], "W"],
     var("x", [4, 3]), var("W", [4, 2]))
case("matmul_self", "linalg", ["matmul", "a", "a"], var("a", [3, 3]))
case("transpose_2d", "linalg", ["transpose", "x"], var("x", [3, 4]))
case("transpose_perm", "linalg", ["transpose", "x", {"perm": [1, 2, 0]}], var("x", [2, 3, 4]))
case("reshape", "linalg", ["reshape", "x", {"shape": [2, 6]}], var("x", [3, 4]))
case("reshape_matmul", "linalg", ["matmul", ["reshape", "x", {"shape": [6, 4]}], "w"],
     var("x", [2, 3, 4]), var("w", [4, 2]))

# Softmax family, over the last axis and over axis 0.
case("softmax_last", "softmax", ["softmax", "x", {"axis": 1}], var("x", [3, 4]))
case("softmax_axis0", "softmax", ["softmax", "x", {"axis": 0}], var("x", [3, 4]))
case("softmax_3d_last", "softmax", ["softmax", "x", {"axis": 2}], var("x", [2, 3, 4]))
case("logSoftmax_last", "softmax", ["logSoftmax", "x", {"axis": 1}], var("x", [3, 4]))
case("logSoftmax_axis0", "softmax", ["logSoftmax", "x", {"axis": 0}], var("x", [3, 4]))
case("logSumExp_last", "softmax", ["logSumExp", "x", {"axis": 1}], var("x", [3, 4]))
case("logSumExp_axis0", "softmax", ["logSumExp", "x", {"axis": 0}], var("x", [3, 4]))

# Values where exp overflows float64 (e^710): correct only if computed stably.
case("logSumExp_large", "stability", ["logSumExp", "x", {"axis": 1}],
     var("x", [2, 4], 995, 1005))
case("softmax_large", "stability", ["softmax", "x", {"axis": 1}], var("x", [2, 4], 990, 1010))
case("logSoftmax_large_negative", "stability", ["logSoftmax", "x", {"axis": 1}],
     var("x", [2, 4], -1010, -990))
case("softplus_wide", "stability", ["softplus", "x"],
     var("x", [6], data=[-800.0, -30.0, -1.5, 0.5, 30.0, 800.0]))
case("sigmoid_wide", "stability", ["sigmoid", "x"],
     var("x", [6], data=[-800.0, -30.0, -1.5, 0.5, 30.0, 800.0]))

# Structure: joining, cutting, picking.
case("concat_axis0", "structure", ["concat", ["a", "b"], {"axis": 0}],
     var("a", [2, 3]), var("b", [1, 3]))
case("concat_axis1_three", "structure", ["concat", ["a", "b", "c"], {"axis": 1}],
     var("a", [2, 1]), var("b", [2, 3]), var("c", [2, 2]))
case("concat_exprs", "structure",
     ["concat", [["exp", "a"], ["mul", "a", "b"]], {"axis": 0}], var("a", [2, 2]),
     var("b", [2, 2]))
case("stack_axis0", "structure", ["stack", ["a", "b"], {"axis": 0}],
     var("a", [2, 3]), var("b", [2, 3]))
case("stack_axis2", "structure", ["stack", ["a", "b", "c"], {"axis": 2}],
     var("a", [2, 3]), var("b", [2, 3]), var("c", [2, 3]))
case("slice_2d", "structure", ["slice", "x", {"begin": [1, 1], "size": [2, 3]}],
     var("x", [4, 5]))
case("slice_3d", "structure", ["slice", "x", {"begin": [0, 1, 1], "size": [2, 2, 2]}],
     var("x", [2, 3, 4]))
case("gather_rows_repeated", "structure", ["gather", "x", {"indices": [2, 0, 2, 3], "axis": 0}],
     var("x", [4, 3]))
case("gather_cols", "structure", ["gather", "x", {"indices": [4, 1, 1], "axis": 1}],
     var("x", [3, 5]))
case("where", "structure", ["where", "m", "a", "b"],
     mask("m", [3, 4]), var("a", [3, 4]), var("b", [3, 4]))
case("where_broadcast", "structure", ["where", "m", "a", "b"],
     mask("m", [3, 4]), var("a", [3, 4]), var("b", [4]))
case("clip", "structure", ["clip", "x", {"min": -0.5, "max": 0.8}], var("x", [3, 4]))

# Losses.
case("softmax_cross_entropy", "loss", cross_entropy("logits", "y"),
     var("logits", [4, 3], -3, 3), onehot("y", 4, 3))
case("mse", "loss", mse("pred", "target"), var("pred", [5, 2]), const("target", [5, 2]))
case("hinge", "loss", ["mean", ["relu", ["sub", 1.0, ["mul", "y", "score"]]]],
     var("score", [6, 1]), pm1("y", [6, 1]))
# max(z, 0) - z y + log(1 + exp(-|z|)): never exponentiates a positive number.
case("bce_with_logits", "loss",
     ["mean", ["add", ["sub", ["relu", "z"], ["mul", "z", "y"]],
               ["log", ["add", 1.0, ["exp", ["neg", ["abs", "z"]]]]]]],
     var("z", [6, 1], -4, 4), mask("y", [6, 1]))

# Small models.
case("mlp_tanh_cross_entropy", "model",
     cross_entropy(linear(["tanh", linear("x", "W1", "b1")], "W2", "b2"), "y"),
     const("x", [5, 4]), var("W1", [4, 6], -1, 1), var("b1", [6], -0.5, 0.5),
     var("W2", [6, 3], -1, 1), var("b2", [3], -0.5, 0.5), onehot("y", 5, 3))
case("mlp_relu_mse", "model", mse(linear(["relu", linear("x", "W1", "b1")], "W2", "b2"), "t"),
     const("x", [5, 3]), var("W1", [3, 4], -1, 1), var("b1", [4], -0.5, 0.5),
     var("W2", [4, 2], -1, 1), var("b2", [2], -0.5, 0.5), const("t", [5, 2]))
case("mlp_gelu_leaky", "model",
     ["sum", linear(["leakyRelu", linear(["gelu", "x"], "W1", "b1"), {"slope": 0.01}], "W2",
                    "b2")],
     var("x", [3, 4]), var("W1", [4, 5], -1, 1), var("b1", [5], -0.5, 0.5),
     var("W2", [5, 2], -1, 1), var("b2", [2], -0.5, 0.5))
case("rnn_step", "model", rnn_step("x", "h"),
     var("x", [2, 3]), var("h", [2, 4], -1, 1), var("Wx", [3, 4], -1, 1),
     var("Wh", [4, 4], -1, 1), var("b", [4], -0.5, 0.5))


def _step_input(t):
    return ["reshape", ["slice", "xs", {"begin": [t, 0, 0], "size": [1, 2, 3]}],
            {"shape": [2, 3]}]


_h = "h0"
for _t_step in range(3):
    _h = rnn_step(_step_input(_t_step), _h)
case("rnn_unrolled_3", "model", mse(["matmul", _h, "Wy"], "y"),
     var("xs", [3, 2, 3]), const("h0", [2, 4], lo=-0.5, hi=0.5), var("Wx", [3, 4], -1, 1),
     var("Wh", [4, 4], -1, 1), var("b", [4], -0.5, 0.5), var("Wy", [4, 1], -1, 1),
     const("y", [2, 1]))

# Graph shapes: a variable read twice (gradients add), one never read (gradient exactly 0).
case("reuse_accumulate", "graph", ["add", ["mul", "x", "x"], ["sin", "x"]], var("x", [3, 4]))
case("diamond", "graph", ["mul", ["exp", ["mul", 0.5, "x"]], ["tanh", ["mul", 0.5, "x"]]],
     var("x", [2, 3]))
case("unused_input", "graph", ["mul", "a", 3.0], var("a", [2, 2]), var("b", [2, 2]))


# ---------------------------------------------------------------------------------------------
# Running the cases.

def case_seed(name):
    return zlib.crc32(name.encode("utf-8"))


def build(spec):
    """Draw the inputs, evaluate with torch under the guards, differentiate."""
    rng = np.random.default_rng(case_seed(spec["name"]))
    arrays = {i.name: i.make(rng) for i in spec["inputs"]}
    leaves = {}
    for i in spec["inputs"]:
        leaves[i.name] = torch.tensor(arrays[i.name], dtype=DTYPE,
                                      requires_grad=not i.constant)

    def on_op(name, args, params, raw_args):
        try:
            guard(name, args, params, raw_args)
        except ExprError as e:
            raise ExprError(f"case {spec['name']}: {e}") from None

    out = evaluate(spec["expr"], leaves, TORCH_OPS, on_op)
    pull = None
    if out.ndim == 0:
        objective = out
    else:
        pull = np.round(rng.uniform(-1, 1, size=tuple(out.shape)), 4) + 0.0
        objective = (out * torch.tensor(pull, dtype=DTYPE)).sum()
    variables = [i.name for i in spec["inputs"] if not i.constant]
    grads = torch.autograd.grad(objective, [leaves[n] for n in variables], allow_unused=True)
    result = {
        "name": spec["name"],
        "group": spec["group"],
        "expr": spec["expr"],
        "inputs": [{"name": i.name, "shape": i.shape, "data": flat(arrays[i.name]),
                    "constant": i.constant} for i in spec["inputs"]],
        "value": {"shape": list(out.shape), "data": flat(out.detach().numpy())},
        "pull": None if pull is None else {"shape": list(pull.shape), "data": flat(pull)},
        "objective": float(objective),
        "grads": {n: flat(np.zeros(arrays[n].shape) if g is None else g.numpy())
                  for n, g in zip(variables, grads)},
    }
    for number in iter_numbers(result):
        if not math.isfinite(number):
            raise ExprError(f"case {spec['name']}: a non-finite number")
    return result


def flat(a):
    return [float(v) + 0.0 for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def iter_numbers(obj):
    if isinstance(obj, float):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from iter_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from iter_numbers(v)


def generate():
    names = [c["name"] for c in CASES]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ExprError(f"duplicate case names: {sorted(duplicates)}")
    cases = [build(c) for c in CASES]
    meta = {
        "command": COMMAND,
        "dtype": "float64",
        "format": 1,
        "cases": len(cases),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "tolerance": TOLERANCE,
        "about": "PyTorch reference values and gradients; format documented in scripts/oracle.py",
    }
    return {"_meta": meta, "cases": cases}


# ---------------------------------------------------------------------------------------------
# Writing: sorted keys; lists of scalars and whole expressions on one line; repr floats.

def render(obj, indent=0):
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(k)}: " + (inline(v) if k == "expr" else render(v, indent + 2))
                 for k, v in sorted(obj.items())]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + render(v, indent + 2) for v in obj) + "\n" + pad + "]"
    return inline(obj)


def inline(obj):
    return json.dumps(obj, sort_keys=True, separators=(", ", ": "), allow_nan=False)


def text():
    return render(generate()) + "\n"


# ---------------------------------------------------------------------------------------------
# --check: numpy re-evaluation and central differences against torch's gradients.

def check(fixture_path=None):
    failures = []
    fd_count = 0
    for spec in CASES:
        built = build(spec)
        env = {i["name"]: np.array(i["data"], dtype=np.float64).reshape(i["shape"])
               for i in built["inputs"]}
        name = spec["name"]
        with np.errstate(over="ignore"):
            got = np.asarray(evaluate(spec["expr"], env, NUMPY_OPS), dtype=np.float64)
        want = np.array(built["value"]["data"]).reshape(built["value"]["shape"])
        if got.shape != want.shape:
            failures.append(f"{name}: numpy shape {got.shape}, torch {want.shape}")
            continue
        if not np.allclose(got, want, rtol=1e-10, atol=1e-12):
            failures.append(f"{name}: value differs, max |diff| {np.max(np.abs(got - want)):.3g}")
        pull = None if built["pull"] is None else \
            np.array(built["pull"]["data"]).reshape(built["pull"]["shape"])

        def objective(e):
            with np.errstate(over="ignore"):
                out = np.asarray(evaluate(spec["expr"], e, NUMPY_OPS), dtype=np.float64)
            return float(out) if pull is None else float(np.sum(out * pull))

        if not math.isclose(objective(env), built["objective"], rel_tol=1e-10, abs_tol=1e-12):
            failures.append(f"{name}: objective differs")
        eps = 1e-6
        for var_name, analytic in built["grads"].items():
            x = env[var_name]
            numeric = np.zeros(x.size)
            for k in range(x.size):
                plus, minus = x.copy().reshape(-1), x.copy().reshape(-1)
                plus[k] += eps
                minus[k] -= eps
                numeric[k] = (objective({**env, var_name: plus.reshape(x.shape)})
                              - objective({**env, var_name: minus.reshape(x.shape)})) / (2 * eps)
            fd_count += x.size
            analytic = np.array(analytic)
            bad = np.abs(analytic - numeric) > 1e-5 + 1e-3 * np.abs(numeric)
            if np.any(bad):
                k = int(np.argmax(bad))
                failures.append(f"{name}: d/d{var_name}[{k}] torch {analytic[k]!r}, "
                                f"central difference {numeric[k]!r}")
    # Composites against torch's own loss functions, so the expr spellings are the usual losses.
    failures += check_losses()
    if fixture_path is not None:
        with open(fixture_path, encoding="utf-8") as f:
            if f.read() != text():
                failures.append(f"{fixture_path} differs from a fresh generation: regenerate it")
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    print(f"oracle --check: {len(CASES)} cases, {fd_count} gradient entries by central "
          f"differences, {len(failures)} failures", file=sys.stderr)
    return not failures


def check_losses():
    by_name = {c["name"]: c for c in CASES}
    failures = []

    def tensors(name):
        built = build(by_name[name])
        return built, {i["name"]: torch.tensor(i["data"], dtype=DTYPE).reshape(i["shape"])
                       for i in built["inputs"]}

    built, t = tensors("softmax_cross_entropy")
    expect = F.cross_entropy(t["logits"], t["y"].argmax(dim=1))
    if not math.isclose(built["objective"], float(expect), rel_tol=1e-12):
        failures.append("softmax_cross_entropy differs from F.cross_entropy")
    built, t = tensors("bce_with_logits")
    expect = F.binary_cross_entropy_with_logits(t["z"], t["y"])
    if not math.isclose(built["objective"], float(expect), rel_tol=1e-12):
        failures.append("bce_with_logits differs from F.binary_cross_entropy_with_logits")
    built, t = tensors("mse")
    expect = F.mse_loss(t["pred"], t["target"])
    if not math.isclose(built["objective"], float(expect), rel_tol=1e-12):
        failures.append("mse differs from F.mse_loss")
    built, t = tensors("hinge")
    expect = torch.clamp(1 - t["y"] * t["score"], min=0).mean()
    if not math.isclose(built["objective"], float(expect), rel_tol=1e-12):
        failures.append("hinge differs from mean(clamp(1 - y s, 0))")
    built, t = tensors("rnn_step")
    cell = torch.nn.RNNCell(3, 4, nonlinearity="tanh").double()
    with torch.no_grad():
        cell.weight_ih.copy_(t["Wx"].T)
        cell.weight_hh.copy_(t["Wh"].T)
        cell.bias_ih.copy_(t["b"])
        cell.bias_hh.zero_()
    expect = cell(t["x"], t["h"]).detach().numpy().reshape(-1)
    if not np.allclose(built["value"]["data"], expect, rtol=1e-12, atol=1e-14):
        failures.append("rnn_step differs from torch.nn.RNNCell")
    return failures


def main(argv):
    args = argv[1:]
    if args and args[0] == "--check":
        return 0 if check(args[1] if len(args) > 1 else None) else 1
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: oracle.py [OUT.json] | --check [FIXTURE.json]", file=sys.stderr)
        return 2
    out = text()
    if not args:
        sys.stdout.write(out)
        return 0
    tmp = args[0] + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(out)
    os.replace(tmp, args[0])  # an interrupted run never leaves a torn fixture
    print(f"wrote {args[0]}: {len(CASES)} cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
