"""Graph rewrites applied to exported ONNX models before they are verified and written.

``conv1d_as_conv2d``: ONNX Runtime's CPU provider runs 2-D convolutions through its NCHWc
kernels (blocked channels, AVX2/AVX-512 direct convolution, Conv+Relu and pooling fused in
that layout) but 1-D convolutions through im2col + sgemm. Lifting every 1-D Conv/Pool to
2-D with a height of one computes the same numbers: on this project's 2-core Xeon the cnn1d
graph went from ~30,000 to ~100,000 windows per CPU-second (one thread, batch 256). The
rewrite lifts a tensor ``[N, C, L]`` to ``[N, C, 1, L]`` once and keeps it lifted through
ops that act per channel or elementwise, squeezing it back wherever another op reads it.
The exporter checks the rewritten graph against ``predict_proba`` like any other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Ops whose output has the lifted layout when their (only tensor) input has it.
UNARY = {
    "Relu",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Sigmoid",
    "Tanh",
    "Softplus",
    "HardSigmoid",
    "HardSwish",
    "Gelu",
    "Erf",
    "Clip",
    "Identity",
    "Dropout",
    "BatchNormalization",
    "InstanceNormalization",
}
#: Elementwise ops: lifted output when every non-scalar input is lifted.
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum"}
#: Spatial ops lifted by rewriting their attributes (and Conv's weight).
SPATIAL = {"Conv", "MaxPool", "AveragePool"}


def _lift_attributes(node: Any) -> None:
    """1-D kernel/stride/dilation/pad attributes -> 2-D with a height of one."""
    for a in node.attribute:
        v = list(a.ints)
        if a.name in ("kernel_shape", "strides", "dilations") and len(v) == 1:
            a.ints[:] = [1, *v]
        elif a.name == "pads" and len(v) == 2:
            a.ints[:] = [0, v[0], 0, v[1]]


def _ranks(model: Any) -> dict[str, int]:
    """Tensor name -> rank, from ONNX shape inference (unknown ranks are left out)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    out = {}
    for vi in [*g.input, *g.value_info, *g.output]:
        t = vi.type.tensor_type
        if t.HasField("shape"):
            out[vi.name] = len(t.shape.dim)
    for init in g.initializer:
        out[init.name] = len(init.dims)
    return out


def conv1d_as_conv2d(model: Any) -> tuple[Any, int]:
    """A copy of ``model`` with its 1-D Conv/MaxPool/AveragePool nodes as 2-D; (model, count)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    g = model.graph
    lifter = _Lifter(model)
    for n in g.node:
        lifter.visit(n)
    for o in g.output:
        lifter.need_3d(o.name)
    if not lifter.count:
        return model, 0
    g.ClearField("node")
    g.node.extend(lifter.nodes)
    g.initializer.append(numpy_helper.from_array(np.array([2], np.int64), _LIFT_AXES))
    g.ClearField("value_info")  # shapes changed; ONNX Runtime infers them again
    onnx.checker.check_model(model)
    return model, lifter.count


#: The initializer holding the axis (2) every Unsqueeze/Squeeze of the rewrite uses.
_LIFT_AXES = "faultlab_lift_axis2"


class _Lifter:
    """The rewrite's state while it walks the graph once, node by node, in order."""

    def __init__(self, model: Any) -> None:
        g = model.graph
        self.ranks = _ranks(model)
        self.inits = {i.name: i for i in g.initializer}
        self.uses: dict[str, int] = {}
        for n in g.node:
            for i in n.input:
                self.uses[i] = self.uses.get(i, 0) + 1
        self.lifted: dict[str, str] = {}  # 3-D name -> its lifted 4-D name
        # lifted by a rewritten node: the 3-D name no longer exists ...
        self.produced_4d: set[str] = set()
        self.squeezed: set[str] = set()  # ... but a Squeeze brought it back for a 3-D reader
        self.nodes: list[Any] = []
        self.count = 0

    def lift(self, name: str) -> str:
        from onnx import helper

        if name not in self.lifted:
            self.lifted[name] = f"{name}__4d"
            self.nodes.append(
                helper.make_node("Unsqueeze", [name, _LIFT_AXES], [self.lifted[name]])
            )
        return self.lifted[name]

    def need_3d(self, name: str) -> None:
        from onnx import helper

        if name in self.produced_4d and name not in self.squeezed:
            self.nodes.append(helper.make_node("Squeeze", [self.lifted[name], _LIFT_AXES], [name]))
            self.squeezed.add(name)

    def rank3_or_scalar(self, names: Any) -> bool:
        return all(self.ranks.get(i) == 3 or _scalar(i, self.inits) for i in names)

    def visit(self, n: Any) -> None:
        """Rewrite ``n`` if it can run on the lifted tensor, then append it."""
        from onnx import numpy_helper

        inits, produced_4d, lifted = self.inits, self.produced_4d, self.lifted
        data = n.input[0] if n.input else ""
        if n.op_type in SPATIAL and self.ranks.get(data) == 3 and _liftable(n, inits, self.uses):
            if n.op_type == "Conv":
                w = inits[n.input[1]]
                w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w)[:, :, None], w.name))
            _lift_attributes(n)
            n.input[0] = self.lift(data)
            _produce_lifted(n, lifted, produced_4d)
            self.count += 1
        elif n.op_type in UNARY and data in produced_4d:
            n.input[0] = lifted[data]
            _produce_lifted(n, lifted, produced_4d, first_only=True)
        elif (
            (n.op_type in ELEMENTWISE or (n.op_type == "Concat" and _attr(n, "axis") == 1))
            and any(i in produced_4d for i in n.input)
            and self.rank3_or_scalar(n.input)
        ):
            n.input[:] = [i if _scalar(i, inits) else self.lift(i) for i in n.input]
            _produce_lifted(n, lifted, produced_4d)
        elif n.op_type == "Flatten" and _attr(n, "axis") == 1 and data in produced_4d:
            n.input[0] = lifted[data]  # [N, C, 1, L] flattens to the same [N, C * L]
        else:
            for i in n.input:
                self.need_3d(i)
        self.nodes.append(n)


def _produce_lifted(
    node: Any, lifted: dict[str, str], produced_4d: set[str], first_only: bool = False
) -> None:
    """Rename the node's output(s) to lifted names (the 3-D names come back by Squeeze)."""
    outs = node.output[:1] if first_only else node.output
    for k, o in enumerate(list(outs)):
        if not o:
            continue
        lifted[o] = f"{o}__4d"
        produced_4d.add(o)
        node.output[k] = lifted[o]


def _liftable(node: Any, inits: dict[str, Any], uses: dict[str, int]) -> bool:
    """A Conv's weight must be an initializer only it reads (it is reshaped in place); a
    MaxPool's optional indices output would change meaning."""
    if node.op_type != "Conv":
        return len(node.output) < 2 or not node.output[1]
    w = node.input[1] if len(node.input) > 1 else ""
    return w in inits and len(inits[w].dims) == 3 and uses.get(w, 0) == 1


def _scalar(name: str, inits: dict[str, Any]) -> bool:
    return name in inits and int(np.prod(inits[name].dims)) <= 1


def _attr(node: Any, name: str) -> Any:
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return None


# -- input normalisation folded into the first convolution ----------------------------------------
def fold_input_norm(model: Any) -> tuple[Any, bool]:
    """A copy of ``model`` with a leading ``(x - mean) / std`` folded into the Conv it feeds.

    deep models normalise their input inside the graph (``InputNorm``: a Sub and a Div over
    the whole window, two passes over the largest tensor of the graph). When mean and std are
    constant along the window (``input_norm: global``), the scale goes into the Conv's
    weights and the shift into its bias; where the Conv pads, the zero padding of the
    normalised signal is the mean of the raw one, so the raw input is padded with the mean
    first (one Pad, only when every channel has the same mean). Returns (model, folded).
    """
    import onnx

    model = onnx.ModelProto.FromString(model.SerializeToString())
    plan = _norm_fold_plan(model.graph)
    if plan is None:
        return model, False
    _apply_norm_fold(model.graph, *plan)
    onnx.checker.check_model(model)
    return model, True


def _only_reader(g: Any, name: str) -> Any:
    readers = [n for n in g.node if name in n.input]
    outputs = {o.name for o in g.output}
    return readers[0] if len(readers) == 1 and name not in outputs else None


def _per_channel(arr: np.ndarray, channels: int) -> np.ndarray | None:
    """A [C, L] / [1, C, L] constant that is the same along L -> its C values (else None)."""
    a = arr[0] if arr.ndim == 3 and arr.shape[0] == 1 else arr
    if a.ndim != 2 or a.shape[0] not in (1, channels) or not np.all(a == a[:, :1]):
        return None
    return np.broadcast_to(a[:, 0].astype(np.float64), (channels,))


def _norm_fold_plan(g: Any) -> tuple | None:
    """(sub, div, conv, reader of div, mean[C], std[C]) when the pattern is there, else None."""
    from onnx import numpy_helper

    inits = {i.name: i for i in g.initializer}
    if len(g.input) != 1:
        return None
    x = g.input[0]
    if len(x.type.tensor_type.shape.dim) != 3:  # [N, C, L] windows
        return None
    sub = _only_reader(g, x.name)
    if sub is None or sub.op_type != "Sub" or sub.input[0] != x.name or sub.input[1] not in inits:
        return None
    div = _only_reader(g, sub.output[0])
    if div is None or div.op_type != "Div" or div.input[0] != sub.output[0]:
        return None
    reader = _only_reader(g, div.output[0])
    conv = reader
    if reader is not None and reader.op_type == "Unsqueeze":
        conv = _only_reader(g, reader.output[0])
    if (
        div.input[1] not in inits
        or conv is None
        or conv.op_type != "Conv"
        or (_attr(conv, "group") or 1) != 1
        or _attr(conv, "auto_pad") not in (None, b"NOTSET", "NOTSET")
        or sum(conv.input[1] in n.input for n in g.node) != 1
        or conv.input[1] not in inits
        or (len(conv.input) > 2 and conv.input[2] not in inits)
    ):
        return None
    channels = int(inits[conv.input[1]].dims[1])
    mean = _per_channel(numpy_helper.to_array(inits[sub.input[1]]), channels)
    std = _per_channel(numpy_helper.to_array(inits[div.input[1]]), channels)
    if mean is None or std is None or not np.all(np.isfinite(std) & (std != 0)):
        return None
    pads = list(_attr(conv, "pads") or [])
    if any(pads) and np.ptp(mean) != 0:  # one Pad value for every channel
        return None
    return sub, div, conv, reader, mean, std


def _apply_norm_fold(g: Any, sub, div, conv, reader, mean, std) -> None:
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in g.initializer}
    w_init = inits[conv.input[1]]
    w = numpy_helper.to_array(w_init).astype(np.float64)
    scale = (1.0 / std).reshape(1, -1, *([1] * (w.ndim - 2)))
    w = w * scale
    bias = w.sum(axis=tuple(range(2, w.ndim))) @ mean  # the mean, scaled, through each filter
    b0 = numpy_helper.to_array(inits[conv.input[2]]) if len(conv.input) > 2 else 0.0
    w_init.CopyFrom(numpy_helper.from_array(w.astype(np.float32), w_init.name))
    b_name = conv.input[2] if len(conv.input) > 2 else f"{w_init.name}__folded_bias"
    b_new = numpy_helper.from_array((b0 - bias).astype(np.float32), b_name)
    if b_name in inits:
        inits[b_name].CopyFrom(b_new)
    else:
        g.initializer.append(b_new)
        conv.input.append(b_name)
    source, new_nodes = g.input[0].name, []
    pads = list(_attr(conv, "pads") or [])
    if any(pads) and mean[0] != 0:  # the normalised zero padding is the raw mean
        half = len(pads) // 2  # [x1_begin, ..., x1_end, ...]: only the last axis pads here
        if any(pads[: half - 1]) or any(pads[half : 2 * half - 1]):
            raise ValueError("padding on a lifted axis")  # never made by this package
        pad_name, val_name, out = "faultlab_norm_pads", "faultlab_norm_pad_value", "windows__pad"
        g.initializer.append(
            numpy_helper.from_array(
                np.array([0, 0, pads[half - 1], 0, 0, pads[-1]], np.int64), pad_name
            )
        )
        g.initializer.append(numpy_helper.from_array(np.array(mean[0], np.float32), val_name))
        new_nodes.append(helper.make_node("Pad", [source, pad_name, val_name], [out]))
        source = out
        for a in conv.attribute:
            if a.name == "pads":
                a.ints[:] = [0] * len(pads)
    reader.input[0] = source
    nodes = [n for n in g.node if n is not sub and n is not div]
    g.ClearField("node")
    g.node.extend([*new_nodes, *nodes])
    used = {i for n in g.node for i in n.input}
    for name in (sub.input[1], div.input[1]):
        if name not in used and name in inits:
            g.initializer.remove(inits[name])
