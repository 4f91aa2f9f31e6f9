#!/usr/bin/env bash
# Regenerates the committed CUDA kernel binary (the Maven build never runs nvcc):
#   kernels/src/main/resources/dev/tiller/kernels/cuda/tiller_kernels.fatbin   SASS sm_80 + sm_90, PTX compute_80
#   kernels/src/main/resources/dev/tiller/kernels/cuda/tiller_kernels.sources.sha256
# The hash covers every file in this folder (name, newline, bytes; sorted by name), so that FatbinSourceHashTest fails
# when a .cu file (or this script) changes without the fatbin being rebuilt.
# PTX is embedded for the lowest architecture only: a driver older than the nvcc that wrote it rejects the PTX, while
# the SASS for sm_80 / sm_90 loads on any driver that supports those GPUs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../resources/dev/tiller/kernels/cuda"
NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
mkdir -p "$out"
"$NVCC" -O3 -fatbin -std=c++17 \
  -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_80,code=compute_80 \
  -o "$out/tiller_kernels.fatbin" "$here/tiller_kernels.cu"
sources_hash() {
  (cd "$here" && for f in $(LC_ALL=C ls); do [ -f "$f" ] && { printf '%s\n' "$f"; cat "$f"; }; done) | sha256sum | cut -d' ' -f1
}
{ sources_hash; "$NVCC" --version | tail -1; } > "$out/tiller_kernels.sources.sha256"
echo "wrote $out/tiller_kernels.fatbin ($(wc -c < "$out/tiller_kernels.fatbin") bytes), sources $(head -1 "$out/tiller_kernels.sources.sha256")"
