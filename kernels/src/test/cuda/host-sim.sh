#!/usr/bin/env bash
# Runs attention_tiled from kernels/src/main/cuda/tiller_kernels.cu on host threads (host_sim.cpp), for a kernel that no
# GPU has run yet: the results against float64 over head dims 16..256, tail tiles, windows, caps, shuffled and gapped
# positions, then a few cases under ThreadSanitizer (a missing or misplaced __syncthreads shows as a data race on the
# shared tile). Needs g++ >= 12 and python3; not part of the Maven build. Not a GPU: no memory model, timing or ptxas.
# Case arguments: heads kvHeads headDim rows firstPosition cap window order (0 ascending, 1 shuffled, 2 three apart).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$here/../../main/cuda/tiller_kernels.cu" "$work/kernel.inc" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
parts = [re.search(p, s, re.S).group(0) for p in (r'#define WARP 32\n', r'__device__ __forceinline__ float warp_sum.*?\n}\n',
         r'__device__ __forceinline__ float warp_max.*?\n}\n', r'#define ATT_WARPS.*?\n#define ATT_MAX_PER_LANE.*?\n')]
sec = s[s.index('// ---------------------------------------------------------------- tiled attention'):s.index('// ---------------------------------------------------------------- split-K')]
decl = '__shared__ float tile[ATT_TILE_FLOATS];'
assert decl in sec
parts.append(sec.replace(decl, decl + ' POISON(tile, ATT_TILE_FLOATS);'))
open(sys.argv[2], 'w').write('\n'.join(parts))
PY
cp "$here/host_sim.cpp" "$work/"
g++ -std=c++20 -O2 -pthread -Wno-unknown-pragmas -o "$work/sim" "$work/host_sim.cpp"
g++ -std=c++20 -O1 -g -fsanitize=thread -pthread -Wno-unknown-pragmas -o "$work/sim-tsan" "$work/host_sim.cpp"
status=0
while read -r c; do
  timeout 300 "$work/sim" $c || { echo "FAILED (exit $?): $c"; status=1; }
done <<'CASES'
4 2 16 70 0 0 0 0
4 2 32 100 0 0.05 4 0
2 1 64 37 5 0 0 0
14 2 64 50 3 0 0 0
2 2 80 50 20 3 7 0
2 1 96 33 0 0 0 1
2 1 128 40 60 0 0 0
2 1 130 20 3 0 0 0
2 1 256 35 10 2.5 9 0
2 1 250 17 0 0 0 0
2 1 64 1 0 0 0 0
2 1 64 16 100 0 0 0
2 1 64 48 0 0 5 2
2 1 64 40 0 0 2 2
2 1 33 19 40 1.5 3 1
3 1 17 64 0 0 1 0
CASES
while read -r c; do
  if ! timeout 600 "$work/sim-tsan" $c > "$work/tsan.txt" 2>&1 || grep -q 'WARNING: ThreadSanitizer' "$work/tsan.txt"; then
    echo "FAILED under ThreadSanitizer: $c"; grep -m5 -E 'WARNING|FAIL|BAD' "$work/tsan.txt"; status=1
  else echo "ThreadSanitizer clean: $c"; fi
done <<'CASES'
2 1 80 40 5 1.5 9 2
2 1 256 20 3 0 0 1
4 2 16 40 0 0.05 4 0
CASES
exit $status
