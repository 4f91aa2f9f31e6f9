#!/usr/bin/env bash
# Checks the K-quant decoding in kernels/src/main/cuda/tiller_kernels.cu on the host (kquant_sim.cpp): the CUDA source of
# q5_0_weight, q4_1_weight, q5_1_weight, q4_k_weight, q5_k_weight, q6_k_weight, repack_q5_0, repack_q6_k and the GEMV loads (GemvQ5_0, GemvQ4_K,
# GemvQ5_K, GemvQ6_K), compiled with g++, against the CPU
# engine's dequantization of the same blocks (KQuantGen, run on the built jars). The Maven build tests the Java
# references of these kernels under the emulator; this checks that the .cu says the same. Needs g++ >= 12, python3 and
# a build (mvn -DskipTests install). Not part of the Maven build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/../../../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$here/../../main/cuda/tiller_kernels.cu" "$work/kquant.inc" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
def between(a, b):
    return s[s.index(a):s.index(b, s.index(a))]
parts = [
    between('// Q5_0 (22-byte blocks', '// ---------------------------------------------------------------- GEMV'),
    re.search(r'#define GEMV_WARPS.*?#define GEMV_SMEM_FLOATS \d+\n', s, re.S).group(0),
    re.search(r'__device__ __forceinline__ float4 xs4.*?\n}\n', s, re.S).group(0),
    re.search(r'__device__ __forceinline__ void dot8.*?\n}\n', s, re.S).group(0),
    re.search(r'struct GemvQ5_0 \{.*?\n\};\n', s, re.S).group(0),
    re.search(r'template <bool FIVE>\nstruct GemvQx_1 \{.*?\n\};\n', s, re.S).group(0),
    re.search(r'template <int BYTES, int QS>\nstruct GemvQ45_K \{.*?\nusing GemvQ5_K = [^\n]*\n', s, re.S).group(0),
    re.search(r'struct GemvQ6_K \{.*?\n\};\n', s, re.S).group(0),
]
# the dequant_*_f16 kernels compile against the shim's __float2half_rn, which aborts: they are not run here
text = '\n'.join(parts)
text = text.replace('extern "C" ', '')
open(sys.argv[2], 'w').write('struct float4 { float x, y, z, w; };\n' + text)
PY
g++ -std=c++20 -O2 -Wno-unknown-pragmas -I"$work" -o "$work/sim" "$here/kquant_sim.cpp"
java=""
for j in "${JAVA_HOME:-}/bin/java" /usr/lib/jvm/temurin-25-jdk-amd64/bin/java "$(command -v java || true)"; do
  [ -x "$j" ] && "$j" -version 2>&1 | grep -qE 'version "(2[5-9]|[3-9][0-9])' && { java="$j"; break; }
done
[ -n "$java" ] || { echo "kquant-sim: no JDK >= 25" >&2; exit 1; }
cp="$root/kernels/target/classes:$root/loader/target/classes"
status=0
for c in "Q5_0 6 7 2144" "Q5_0 6 3 256" "Q4_1 3 7 2144" "Q5_1 7 7 2144" "Q4_K 12 7 2304" "Q4_K 12 3 256" "Q5_K 13 7 2304" "Q5_K 13 3 256" "Q6_K 14 7 2304" "Q6_K 14 3 256"; do
  set -- $c
  "$java" --add-modules jdk.incubator.vector -cp "$cp" "$here/KQuantGen.java" "$1" "$3" "$4" "$work/w" 2> >(grep -v "^WARNING: Using incubator" >&2)
  "$work/sim" "$2" "$3" "$4" "$work/w.raw" "$work/w.f32" || status=1
done
exit $status
