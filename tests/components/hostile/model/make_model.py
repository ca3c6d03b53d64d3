"""Writes identity.onnx: y = x * 1 for x of shape [1, N] (N symbolic), and empty_sum.onnx:
y = ReduceSum(x, axis 1) for x of shape [1, N], which tract 0.23 panics on for N = 0 (the host must turn
that into an error). Deterministic."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(node, name: str, out_shape: list, initializer) -> None:
    graph = helper.make_graph(
        [node],
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "N"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=[initializer],
    )
    model = helper.make_model(graph, producer_name="komp", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())


save(helper.make_node("Mul", ["x", "one"], ["y"]), "identity", [1, "N"],
     numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one"))
save(helper.make_node("ReduceSum", ["x", "axis1"], ["y"], keepdims=1), "empty_sum", [1, 1],
     numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"))
