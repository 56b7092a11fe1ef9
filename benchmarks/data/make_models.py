"""Build the model folders the encoder-family benchmark runs (from ../shared, offline).

    python benchmarks/data/make_models.py inference-free OUT [--doc-model M] [--idf idf.json]
        splade-tiny for documents + OpenSearch's IDF table for queries, saved as an lsr folder
    python benchmarks/data/make_models.py random-decoder OUT [--tokenizer M]
        a random-weight 2-layer Llama (hidden 64) over splade-tiny's tokenizer: it only has to
        run end to end (its vectors carry no meaning)
"""

from __future__ import annotations

import argparse
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"


def inference_free(out: Path, doc_model: Path, idf: Path) -> None:
    from lsr.models.idf import load_idf
    from lsr.models.inference_free import InferenceFreeEncoder

    InferenceFreeEncoder.from_folder(doc_model, table=load_idf(idf)).save(out)


def random_decoder(out: Path, tokenizer_folder: Path) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from lsr.models.decoder import DecoderSpladeEncoder

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True)
    DecoderSpladeEncoder(LlamaForCausalLM(config), tokenizer, doc_max_length=256).save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    free = sub.add_parser("inference-free")
    free.add_argument("out", type=Path)
    free.add_argument("--doc-model", type=Path, default=SHARED / "models/splade-tiny")
    free.add_argument("--idf", type=Path, default=SHARED / "data/idf/opensearch-idf.json")
    decoder = sub.add_parser("random-decoder")
    decoder.add_argument("out", type=Path)
    decoder.add_argument("--tokenizer", type=Path, default=SHARED / "models/splade-tiny")
    args = parser.parse_args()
    if args.what == "inference-free":
        inference_free(args.out, args.doc_model, args.idf)
    else:
        random_decoder(args.out, args.tokenizer)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
