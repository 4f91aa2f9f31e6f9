#!/usr/bin/env bash
# Batch throughput with 1, 8 and 32 concurrent sequences (issue: offline batch inference).
# Usage: bench/scripts/batch-throughput.sh MODEL.gguf [TOKENS]   (e.g. a Qwen2.5-0.5B-shaped model from
#   ./tiller models write --preset qwen2.5-0.5b --type q8_0 --tokenizer ../shared/tokenizers/qwen2.5 -o /tmp/qwen05-q8_0.gguf)
# Prints tiller batch's summary line per setting: generated tokens per second over the whole job (prefill included).
set -euo pipefail
cd "$(dirname "$0")/../.."
model="$1"; tokens="${2:-16}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
for p in 1 8 32; do
  n=$p; [ "$p" = 1 ] && n=4
  for i in $(seq 1 "$n"); do
    echo "{\"id\":\"b$i\",\"prompt\":\"Request number $i: once upon a time\",\"max_tokens\":$tokens,\"temperature\":0}"
  done > "$work/in-$p.jsonl"
  echo "== parallel $p, $n requests x $tokens tokens"
  ./tiller batch -m "$model" -i "$work/in-$p.jsonl" -o "$work/out-$p.jsonl" -P "$p" --ignore-eos --no-progress -c 256 2>&1 | tail -1
done
