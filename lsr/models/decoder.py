"""SPLADE with a decoder LLM backbone: w = max over text positions of log(1 + ReLU(LM-head logits)).

A causal model's early positions see only the start of the text. In echo mode (the default)
the input holds the text twice, `[BOS] prefix TEXT separator TEXT suffix` from a template such
as "Rewrite the passage:\\n{text}\\nRewritten passage:\\n{text}", and only the positions of the
second copy are pooled: each of them has attended to the whole text. The input is assembled
from token ids (template pieces and text tokenized separately), so the pooled positions are
known exactly; BOS, template and padding positions are never pooled, and special tokens get
weight 0 in the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from lsr.errors import LsrError
from lsr.models.base import Encoder, ModelInfo
from lsr.models.device import autocast, pick_device
from lsr.models.pooling import SpladePooling, defer_head
from lsr.models.settings import DecoderSettings
from lsr.models.splade import encode_in_length_order, pinned
from lsr.sparse import SparseVectors

if TYPE_CHECKING:
    from peft import PeftModel
    from transformers import PreTrainedModel

TEXT_SLOT = "{text}"
ECHO_TEMPLATES = {"query": "Rewrite the query:\n{text}\nRewritten query:\n{text}",
                  "doc": "Rewrite the passage:\n{text}\nRewritten passage:\n{text}"}
PLAIN_TEMPLATES = {"query": "Query:\n{text}", "doc": "Passage:\n{text}"}
ADAPTER_DIR = "adapter"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class Prompt:
    """The token ids fed to the model for one text; positions start..stop-1 are pooled."""

    ids: list[int]
    start: int
    stop: int


@dataclass(frozen=True)
class PaddedPrompts:
    """A batch of prompts as right-padded tensors (on the CPU) and the prompts themselves."""

    input_ids: torch.Tensor
    attention: torch.Tensor
    prompts: list[Prompt]


class DecoderSpladeEncoder(Encoder):
    """A Hugging Face `*ForCausalLM` model (Llama, Mistral, Qwen2, SmolLM2, …) used as a SPLADE encoder.

    Templates hold `{text}` twice with `echo` (the second copy is pooled), once without it.
    Weights stay float32 (bf16 autocast on a GPU) unless `dtype` ("float32", "bfloat16",
    "float16") casts them, e.g. to halve a large model's memory for inference.
    The model stays in eval mode (encodings are deterministic); a trainer switches `network` to
    train mode and calls `forward`.
    """

    kind = "decoder-splade"
    settings: DecoderSettings

    def __init__(self, model: torch.nn.Module, tokenizer, settings: DecoderSettings | None = None, *,
                 device: str | None = None):
        settings = settings or DecoderSettings()
        defaults = ECHO_TEMPLATES if settings.echo else PLAIN_TEMPLATES
        self.settings = settings.replace(query_template=settings.query_template or defaults["query"],
                                       doc_template=settings.doc_template or defaults["doc"])
        self.device = pick_device(device)
        self.model = model.to(device=self.device, dtype=DTYPES[settings.dtype] if settings.dtype else None).eval()
        self.tokenizer = tokenizer
        self.pooling = SpladePooling(settings.pooling, settings.activation, settings.logit_threshold)
        self.head = defer_head(self.model)  # None: the model returns logits
        query_template, doc_template = self.settings.query_template, self.settings.doc_template
        assert query_template is not None and doc_template is not None  # the defaults filled them in above
        self._pieces = {is_query: [self._token_ids(piece) for piece in _template_pieces(template, settings.echo)]
                        for is_query, template in [(True, query_template), (False, doc_template)]}
        bos = tokenizer.bos_token_id
        self._bos = [bos] if bos is not None and tokenizer("x")["input_ids"][:1] == [bos] else []
        self._pad_id = next((i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None), 0)
        size = cast("PreTrainedModel", self.model).get_output_embeddings().weight.shape[0]  # a Hugging Face model
        tokens = tokenizer.convert_ids_to_tokens(list(range(min(size, len(tokenizer)))))
        self._vocab = lucene_vocab(tokens, size)
        special = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special} | set(tokenizer.all_special_ids)
        unnamed = [i for i in range(size) if i >= len(tokens) or tokens[i] is None]
        self._silent_ids = torch.tensor(sorted({i for i in special if i < size} | set(unnamed)),
                                        dtype=torch.long, device=self.device)

    @classmethod
    def from_folder(cls, folder: str | Path, settings: DecoderSettings | None = None, *,
                    device: str | None = None) -> DecoderSpladeEncoder:
        """Load a model folder (or its `gguf_file`); settings naming `lora` load the adapters in `adapter/`."""
        from transformers import AutoTokenizer

        folder = Path(folder)
        settings = settings or DecoderSettings()
        gguf_file = settings.gguf_file or _only_gguf_file(folder)
        model = _load_causal_lm(folder, gguf_file)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
        encoder = cls(model, tokenizer, settings.replace(gguf_file=gguf_file, lora=None), device=device)
        if settings.lora:
            encoder._load_lora(folder / ADAPTER_DIR)
        return encoder

    @property
    def vocab(self) -> list[str]:
        return self._vocab

    @property
    def lora(self) -> dict[str, Any] | None:
        """The LoRA adapter settings, or None without adapters."""
        config = getattr(self.model, "peft_config", {}).get("default")
        if config is None:
            return None
        modules = config.target_modules
        return {"r": config.r, "alpha": config.lora_alpha, "dropout": config.lora_dropout,
                "target_modules": sorted(modules) if isinstance(modules, (set, list)) else modules}

    def recorded_settings(self) -> dict[str, Any]:
        """The settings with the LoRA adapters' (as `lsr.json` records them)."""
        return {**self.settings.to_dict(), "lora": self.lora}

    @property
    def network(self) -> torch.nn.Module:
        return self.model

    def set_logit_threshold(self, threshold: float) -> None:
        """The logit a term must exceed to get weight (recorded in the settings the model is saved with)."""
        self.settings = self.settings.replace(logit_threshold=float(threshold))
        self.pooling.threshold = float(threshold)

    def with_lora(self, r: int = 8, alpha: int = 16, dropout: float = 0.0,
                  target_modules: list[str] | str | None = None) -> DecoderSpladeEncoder:
        """Wrap the backbone in fresh trainable LoRA adapters (peft's default modules when None); returns self."""
        from peft import LoraConfig, get_peft_model

        if self.lora:
            raise LsrError("the encoder already has LoRA adapters")
        config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                            task_type="CAUSAL_LM")
        try:
            self.model = get_peft_model(self.model, config).eval()
        except ValueError as e:
            raise LsrError(f"cannot add LoRA adapters: {e}".splitlines()[0]) from e
        return self

    def _load_lora(self, adapter: Path) -> None:
        from peft import PeftModel

        if not adapter.is_dir():
            raise LsrError(f"{adapter.parent}: the settings name LoRA adapters, but {ADAPTER_DIR}/ is missing")
        self.model = PeftModel.from_pretrained(self.model, adapter, is_trainable=True).eval()

    def save(self, folder: str | Path) -> None:
        """Write safetensors weights, the tokenizer and `lsr.json`; LoRA adapters go to `adapter/` unmerged."""
        folder = Path(folder)
        if self.lora:
            adapted = cast("PeftModel", self.model)  # models with adapters are peft's (`with_lora`, `_load_lora`)
            base = cast("PreTrainedModel", adapted.get_base_model())
            weights = {k.replace(".base_layer.", "."): v for k, v in base.state_dict().items() if "lora_" not in k}
            base.save_pretrained(folder, state_dict=weights)
            adapted.save_pretrained(str(folder / ADAPTER_DIR))
        else:
            cast("PreTrainedModel", self.model).save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        ModelInfo(self.kind, {**self.recorded_settings(), "gguf_file": None}).save(folder)

    def prompts(self, texts: Sequence[str], *, is_query: bool) -> list[Prompt]:
        """The model input of each text: BOS (when the tokenizer adds one), then the template
        pieces around the text truncated to the max length; the text's last copy is pooled."""
        max_length = self.settings.query_max_length if is_query else self.settings.doc_max_length
        *pieces, suffix = self._pieces[is_query]
        prompts = []
        for text_ids in self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]:
            text_ids = text_ids[:max_length]
            ids = list(self._bos)
            for piece in pieces:
                ids += piece
                start = len(ids)
                ids += text_ids
            prompts.append(Prompt(ids + suffix, start, start + len(text_ids)))
        return prompts

    def forward(self, texts: Sequence[str], *, is_query: bool) -> torch.Tensor:
        """Dense [len(texts), vocab] float32 term weights, with gradients when enabled (for training)."""
        prompts = self.prompts(texts, is_query=is_query)
        blank = next((i for i, p in enumerate(prompts) if p.start == p.stop), None)
        if blank is not None:
            raise ValueError(f"text {blank} has no tokens: nothing to pool")
        return self._pool(self._pad(prompts))

    def _encode(self, texts: list[str], *, is_query: bool, progress: bool) -> SparseVectors:
        prompts = self.prompts(texts, is_query=is_query)

        def pooled(batch: PaddedPrompts) -> torch.Tensor:
            with torch.inference_mode():
                return self._pool(batch)

        return encode_in_length_order([len(p.ids) for p in prompts], self.settings.batch_size,
                                      lambda rows: self._pad([prompts[i] for i in rows]), pooled,
                                      progress=progress, overlap=self.device.type == "cuda")

    def _pad(self, prompts: list[Prompt]) -> PaddedPrompts:
        """Right-padded batch (positions count from 0 in every row), built on the CPU."""
        length = max(len(p.ids) for p in prompts)
        input_ids = torch.full((len(prompts), length), self._pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), length), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            input_ids[row, :len(prompt.ids)] = torch.tensor(prompt.ids, dtype=torch.long)
            attention[row, :len(prompt.ids)] = 1
        return PaddedPrompts(pinned(input_ids, self.device), pinned(attention, self.device), prompts)

    def _pool(self, batch: PaddedPrompts) -> torch.Tensor:
        """The batch's weights, pooled over each text's last copy; special tokens get weight 0."""
        prompts, length = batch.prompts, batch.input_ids.shape[1]
        first = min(p.start for p in prompts)  # logits are computed only from here on
        with autocast(self.device):
            logits = self.model(input_ids=batch.input_ids.to(self.device, non_blocking=True),
                                attention_mask=batch.attention.to(self.device, non_blocking=True),
                                use_cache=False, logits_to_keep=length - first).logits
        spans = [(p.start - first, p.stop - first) for p in prompts]
        return self.pooling(logits, spans, self.head).index_fill(1, self._silent_ids, 0.0)

    def _token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []


def lucene_vocab(tokens: Sequence[str | None], size: int) -> list[str]:
    """Term names for ids 0..size-1 that Lucene accepts (non-empty, no whitespace), all distinct.

    A token keeps its spelling unless it holds whitespace: each whitespace character becomes
    its UTF-8 bytes written `<0xHH>` (SentencePiece's byte names: "\\n" -> "<0x0A>", " " -> "<0x20>").
    An empty token becomes `<lsr:empty>`; an alias another token already spells gets `[lsr:ID]`
    appended; ids without a token (holes, LM-head rows past the tokenizer) are `[lsr:ID]`.
    """
    taken = {t for t in tokens if t}
    names = []
    for term_id in range(size):
        token = tokens[term_id] if term_id < len(tokens) else None
        if token is None:
            names.append(f"[lsr:{term_id}]")
        elif token and not any(c.isspace() for c in token):
            names.append(token)
        else:
            alias = "".join("".join(f"<0x{b:02X}>" for b in c.encode()) if c.isspace() else c for c in token)
            alias = alias or "<lsr:empty>"
            if alias in taken:
                alias += f"[lsr:{term_id}]"
            taken.add(alias)
            names.append(alias)
    return names


def _template_pieces(template: str, echo: bool) -> list[str]:
    pieces = template.split(TEXT_SLOT)
    if len(pieces) != (3 if echo else 2):
        raise LsrError(f"template {template!r} must hold {TEXT_SLOT} "
                       f"{'twice (echo on)' if echo else 'once (echo off)'}")
    return pieces


def _load_causal_lm(folder: Path, gguf_file: str | None) -> torch.nn.Module:
    """The folder's causal LM; GGUF weights are unpacked into a plain dense model (trainable, savable)."""
    from transformers import AutoModelForCausalLM, GgufConfig

    if not gguf_file:
        return AutoModelForCausalLM.from_pretrained(folder)
    if not (folder / gguf_file).is_file():
        raise LsrError(f"{folder}: no GGUF file {gguf_file}")
    return AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf_file,
                                                quantization_config=GgufConfig(dequantize=True))


def _only_gguf_file(folder: Path) -> str | None:
    """The folder's GGUF file when it has no config.json (a GGUF-only folder), else None."""
    if (folder / "config.json").is_file():
        return None
    found = sorted(p.name for p in folder.glob("*.gguf"))
    if len(found) > 1:
        raise LsrError(f"{folder}: holds {len(found)} GGUF files; pass gguf_file=NAME")
    return found[0] if found else None
