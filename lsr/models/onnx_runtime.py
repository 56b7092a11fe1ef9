"""ONNX Runtime CPU inference for masked-LM SPLADE: the setting `runtime = "onnx"` or `"onnx-int8"`.

The transformer is exported without its LM head (when `defer_head` could defer it): ONNX Runtime
returns the head's input, and lsr's fused head + max pooling (`lsr.models.pooling.head_max`) runs in
torch as on the torch path. Measured on splade-tiny (2 cores), that is faster than exporting head,
masking and pooling into the graph, fp32 or int8: ONNX Runtime then writes and reduces a
[rows, length, vocab] logit tensor. `onnx-int8` quantizes the transformer's weights to int8
(dynamic quantization: activations quantized per batch).

The graph is exported once per (weights, model config, runtime, versions) and cached as
`$XDG_CACHE_HOME/lsr/onnx/<fingerprint>.onnx` (default `~/.cache`), written atomically: a second
load of the same model reuses it. Export uses torch's TorchScript exporter (no `onnxscript`);
quantization needs the `onnx` package. Both come with `pip install 'lsr[onnx]'`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from lsr.environment import read_environment
from lsr.errors import LsrError
from lsr.models.pooling import SpladePooling, mask_spans

if TYPE_CHECKING:
    from transformers import PreTrainedModel

OPSET = 17


class OnnxSplade:
    """SPLADE weights of padded token batches through an ONNX Runtime CPU session."""

    def __init__(self, model: nn.Module, head: nn.Linear | None, pooling: SpladePooling, runtime: str):
        try:
            import onnxruntime

            if runtime == "onnx-int8":
                import onnx  # noqa: F401 (quantization reads and writes the graph with it)
        except ImportError as e:
            raise LsrError(f"runtime {runtime!r} needs onnxruntime and onnx: pip install 'lsr[onnx]'") from e
        if next(model.parameters()).device.type != "cpu":
            raise LsrError(f"runtime {runtime!r} runs on the CPU: load the encoder with device='cpu'")
        self.runtime = runtime
        self.head, self.pooling = head, pooling
        self.path = exported_graph(SpladeGraph(model, head), runtime)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the cores to torch's pooling
        self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[rows, vocab] float32 weights of a padded batch."""
        feed = {"input_ids": input_ids.long().numpy(), "attention_mask": attention_mask.long().numpy()}
        states = torch.from_numpy(self.session.run(None, feed)[0])
        with torch.inference_mode():
            return self.pooling(states, mask_spans(attention_mask), self.head)


class SpladeGraph(nn.Module):
    """What is exported: token ids and mask in, the model's output out (the LM head's input when
    `defer_head` deferred the head, else the logits)."""

    def __init__(self, model: nn.Module, head: nn.Linear | None):
        super().__init__()
        self.model, self.deferred = model, head is not None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def exported_graph(graph: SpladeGraph, runtime: str) -> Path:
    """The cached .onnx file of `graph` for `runtime` ("onnx" or "onnx-int8"), exported when missing."""
    path = cache_folder() / f"{fingerprint(graph, runtime)}.onnx"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        _export(graph, fp32)
        if runtime == "onnx-int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(fp32, Path(tmp) / "int8.onnx", weight_type=QuantType.QInt8)
            fp32 = Path(tmp) / "int8.onnx"
        os.replace(fp32, path)
    return path


def _export(graph: SpladeGraph, path: Path) -> None:
    # Two rows of different lengths: the traced graph keeps the attention mask (a batch without
    # padding could let the model's masking code drop it).
    ids = torch.tensor([[2, 5, 6, 3], [2, 5, 3, 0]])
    embeddings = cast("PreTrainedModel", graph.model).get_input_embeddings()  # a Hugging Face model's
    ids = ids.clamp(max=cast(torch.Tensor, embeddings.weight).shape[0] - 1)  # torch types it `Tensor | Module`
    mask = (torch.arange(4) < torch.tensor([[4], [3]])).long()
    axes = {0: "rows", 1: "length"}
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape checks that are constant for BERT-like models
        torch.onnx.export(graph.eval(), (ids, mask), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["input_ids", "attention_mask"], output_names=["states"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "states": axes})


def fingerprint(graph: SpladeGraph, runtime: str) -> str:
    """A hash of everything the exported file depends on: weights, model config, runtime, versions."""
    import onnxruntime

    digest = hashlib.sha256()
    config = getattr(graph.model, "config", None)
    for part in (runtime, torch.__version__, onnxruntime.__version__, str(OPSET),
                 type(graph.model).__name__, config.to_json_string() if config is not None else "",
                 str(graph.deferred)):
        digest.update(part.encode() + b"\0")
    for name, tensor in graph.state_dict().items():
        digest.update(name.encode() + b"\0")
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"{runtime}-{digest.hexdigest()[:20]}"


def cache_folder() -> Path:
    """Where exported graphs are kept: `$XDG_CACHE_HOME/lsr/onnx`, `~/.cache/lsr/onnx` by default."""
    return Path(read_environment().cache_home) / "lsr" / "onnx"
