#!/usr/bin/env bash
# Set up, then run the end-to-end example: BM25 and SPLADE impact indexes of BEIR SciFact,
# search the test queries, print nDCG@10 / R@100 / MRR@10 for both.
# usage: scripts/example.sh [BEIR_FOLDER] [MODEL_FOLDER] [OUT_FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/beir/scifact}
model=${2:-../shared/models/splade-tiny}
out=${3:-runs/scifact}
[ -d "$data" ] || { echo "no BEIR folder at $data: pass one as the first argument" >&2; exit 2; }
[ -d "$model" ] || { echo "no model folder at $model: pass one as the second argument" >&2; exit 2; }
bash scripts/setup.sh
lsr=.venv/bin/lsr
mkdir -p "$out"
$lsr index "$data" -o "$out/bm25" --bm25 --overwrite
$lsr search "$out/bm25" "$data" -o "$out/bm25.trec" --overwrite
# resumes if interrupted; skipped once complete
[ -f "$out/splade/lsr-index.json" ] || $lsr index "$data" -o "$out/splade" --model "$model"
$lsr search "$out/splade" "$data" -o "$out/splade.trec" --overwrite
for system in bm25 splade; do
  $lsr -q eval "$out/$system.trec" "$data" --json "$out/$system.eval.json"
done
