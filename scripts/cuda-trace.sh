#!/usr/bin/env bash
# Records what the CUDA forward issues, under the emulator (no GPU needed): one trace per run, every kernel launch
# with its grid and arguments, every GEMM, copy and graph launch, device addresses as allocation number + offset.
# Two builds that should issue the same work (a refactoring of the forward) give the same files:
#
#   scripts/cuda-trace.sh /tmp/before      # on the old commit, after mvn install
#   scripts/cuda-trace.sh /tmp/after       # on the new one
#   diff -r --exclude='*.out' /tmp/before /tmp/after
#
# The runs: stories260K with a control vector, tiny llama F16/Q4_K, qwen2 Q8_0, qwen3 F32 and gemma2 Q4_0 decoding
# past the split-K threshold, sampled qwen2, a steered batch of 4, tiled gemma2 prefill; each with the fused kernels
# off and on. The .out files hold each run's output (tokens match between builds; tok/s do not).
set -euo pipefail
out=${1:?usage: scripts/cuda-trace.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$root/../shared
mkdir -p "$out"
rm -f "$out"/*.trace "$out"/*.out
models=$(mktemp -d)
trap 'rm -rf "$models"' EXIT
for spec in "tiny-llama f16" "tiny-qwen2 q8_0" "tiny-qwen3 f32" "tiny-gemma2 q4_0" "tiny-llama q4_k"; do
  set -- $spec
  "$root/tiller" models write --preset "$1" --type "$2" -o "$models/$1-$2.gguf" > /dev/null
done
P="In a small village by the sea there lived an old fisherman who every morning walked down to the harbour and looked at the boats"
run() {
  local name=$1; shift
  TILLER_JAVA_OPTS="-Dtiller.cuda=emulator -Dtiller.cuda.emulator.trace=$out/$name.trace $extra" "$root/tiller" "$@" > "$out/$name.out" 2>&1
}
for fused in false true; do
  extra="-Dtiller.cuda.fused=$fused"
  run stories-cv-$fused generate -m "$shared/models/stories260K.gguf" --device cuda -p "Once upon a time" -n 80 --temp 0 -s 1 \
      --control-vector-scaled "$shared/reference/stories260K/happy_mean.gguf:0.6"
  run qwen2-sampled-$fused generate -m "$shared/models/tiny-random-qwen2.gguf" --device cuda -p "$P" -n 70 --temp 0.8 -s 3
  for m in tiny-llama-f16 tiny-qwen2-q8_0 tiny-qwen3-f32 tiny-gemma2-q4_0 tiny-llama-q4_k; do
    run $m-$fused generate -m "$models/$m.gguf" --device cuda -p "$P" -n 70 --temp 0 -s 1
  done
  run batch-qwen2-$fused bench --device cuda -m "$models/tiny-qwen2-q8_0.gguf" --batch 4 -p 32 -n 8 -r 1
  extra="-Dtiller.cuda.fused=$fused -Dtiller.cuda.tiledAttention=true"
  run tiled-gemma2-$fused generate -m "$models/tiny-gemma2-q4_0.gguf" --device cuda -p "$P $P" -n 4 --temp 0 -s 1
done
echo "$(cat "$out"/*.trace | wc -l) lines of trace in $out"
