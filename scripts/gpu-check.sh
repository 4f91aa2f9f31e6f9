#!/usr/bin/env bash
# Tiller's GPU check, run from an unpacked bundle (scripts/gpu-bundle.sh) on a machine with an NVIDIA GPU:
#   1. the GPU tests (JUnit console launcher, real CUDA: -Dtiller.cuda=device)
#   2. CPU vs GPU greedy text with the CLI (stories260K plain and steered; Qwen2.5-0.5B-shaped models per format)
#   3. where CPU and GPU part ways on Q4_0 (compare-devices), on the GPU and on the host emulator
#   4. bench --device cuda (pp512 / tg128, decode at depth), steer-overhead
#   5. quant: the weights-as-stored check on its own (GEMV and quantized-weight tests, CPU vs GPU text for Q8_0 / Q4_0,
#      bench of F16 / Q8_0 / Q4_0 with the GEMV on and off, and the Q8_0 / Q4_0 decode speed relative to F16; the
#      Llama-3.2-1B shape in Q4_K_M against F16, and its CPU vs GPU text)
#   6. argmax: greedy decode with the argmax on the device (one id copied per step) against the whole logits row
#      copied and the argmax on the host (TILLER_CUDA_DEVICE_ARGMAX=1 / 0): its tests on the device, CPU vs GPU text,
#      and bench tg128 both ways (about 3 minutes)
#   7. train: steering-vector training on the GPU (float32) against the CPU float64 reference: its tests on the
#      device, one CE step of 32 rows x 128 tokens and one GRPO step of 8 prompts x 8 samples (<= 256 new tokens) on
#      the Qwen2.5-1.5B shape (F16), and default GRPO on arith-mini on the GPU and on this machine's CPU (about 6 minutes)
#   8. tiled: the tiled prefill attention kernel (TILLER_CUDA_TILED_ATTENTION=1, off by default until this has run):
#      the CUDA tests of the engine (and the kernel's own) with it on, CPU vs GPU greedy text after a 120-token
#      prompt with it off and on, and bench pp512 / pp4096 (-n 0 -r 2) on the Qwen2.5-0.5B F16 shape off and on
# Logs go to $OUT (or /tmp/tiller-gpu-check); a summary is printed last. Sections: GPU_CHECK_SECTIONS="tests text
# q4 bench argmax ncu quant train tiled" (default: all but quant, train and tiled, whose runs the others include, that
# are long, or that check an opt-in path). GPU_CHECK_QUICK=1 skips the 1B model and the depth runs. A short session:
# GPU_CHECK_SECTIONS=quant (about 7 minutes; estimated, not yet timed); GPU_CHECK_SECTIONS=tiled for the tiled prefill attention.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${OUT:-/tmp/tiller-gpu-check}"
mkdir -p "$out"
sections="${GPU_CHECK_SECTIONS:-tests text q4 bench argmax ncu}"
models="${TMPDIR:-/tmp}/tiller-gpu-models"
mkdir -p "$models"
JAVA="$here/jre/bin/java"
FLAGS=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -XX:+UseParallelGC)
summary="$out/summary.txt"
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
tiller() { "$JAVA" "${FLAGS[@]}" -Dtiller.shared="$here/shared" -cp "$here/lib/*" dev.tiller.cli.Tiller "$@" 2> >(grep -v '^WARNING: Using incubator' >&2); }
S="$here/shared"

# the Qwen2.5-0.5B shape in format $1 (f16, bf16, q8_0, q4_0, q4_k_m), written once
q05() { [ -f "$models/q05-$1.gguf" ] || tiller models write --preset qwen2.5-0.5b --type "$1" --tokenizer "$S/models/tiny-random-qwen2.gguf" -o "$models/q05-$1.gguf" > /dev/null; }
# tg128 mean of a bench log, and "Q8_0 / F16" style ratios of decode speed (the GPU-speed issue's 1.3x / 1.6x targets)
tg() { grep -E '^\| .*\| tg128 ' "$1" | head -1 | awk -F'|' '{split($5, a, " "); print a[1]}'; }
ratios() { # suffix of the bench logs ("" or "-nogemv"), label
  local f16 q8 q4; f16="$(tg "$out/bench-q05-f16$1.txt")"; q8="$(tg "$out/bench-q05-q8_0$1.txt")"; q4="$(tg "$out/bench-q05-q4_0$1.txt")"
  note "   $2 decode vs F16: Q8_0 $(awk -v a="$q8" -v b="$f16" 'BEGIN{if (b > 0) printf "%.2fx", a / b; else print "?"}')," \
    "Q4_0 $(awk -v a="$q4" -v b="$f16" 'BEGIN{if (b > 0) printf "%.2fx", a / b; else print "?"}') (tg128 F16 $f16, Q8_0 $q8, Q4_0 $q4 tok/s; targets 1.3x / 1.6x)"
}

# CPU vs GPU greedy text of one generate command: same NAME, then generate's arguments; notes identical or DIFFER
same() {
  local name="$1"; shift
  tiller generate "$@" --temp 0 --device cpu > "$out/text-$name-cpu.txt" 2> "$out/text-$name-cpu.err"
  tiller generate "$@" --temp 0 --device cuda > "$out/text-$name-gpu.txt" 2> "$out/text-$name-gpu.err"
  if [ -s "$out/text-$name-cpu.txt" ] && cmp -s "$out/text-$name-cpu.txt" "$out/text-$name-gpu.txt"; then note "   $name: identical"
  else note "   $name: DIFFER (cpu: $(head -c 160 "$out/text-$name-cpu.txt" | tr '\n' ' ') | gpu: $(head -c 160 "$out/text-$name-gpu.txt" | tr '\n' ' ') $(tail -1 "$out/text-$name-gpu.err"))"; fi
}

# JUnit on the device: gpu_tests NAME CLASS_REGEX LABEL [EXTRA_REGEX] runs the bundled test classes matching the regex
# (never CudaEmulatorTest, which checks the emulator itself) with -Dtiller.cuda=device, logs to
# $out/tests[-NAME].log, and notes the counts, then the failures and any lines matching EXTRA_REGEX, in the summary.
gpu_tests() {
  local name="$1" classes="$2" label="$3" extra="${4:-}" cp="" sfx="${1:+-$1}"
  for j in "$here"/tests/*.jar; do cp="$cp:$j"; done
  "$JAVA" "${FLAGS[@]}" -Xmx16g -Dtiller.shared="$S" -Dtiller.cuda=device -cp "$here/junit/console.jar:$here/lib/*${cp}" \
    org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=summary --details-theme=ascii \
    --scan-class-path "${cp#:}" --include-classname "$classes" --exclude-classname '.*CudaEmulatorTest' \
    --reports-dir "$out/junit$sfx" > "$out/tests$sfx.log" 2>&1
  note "$label (exit $?): $(grep -E 'tests (successful|failed|skipped|aborted)' "$out/tests$sfx.log" | tr -s ' ' | tr '\n' ';')"
  grep -E "MethodSource|=> |Exception|expected${extra:+|$extra}" "$out/tests$sfx.log" | head -40 >> "$summary"
}

note "== Tiller GPU check, commit $(cat "$here/COMMIT" 2>/dev/null), $(date -u +%FT%TZ)"
note "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"

if [[ " $sections " == *" tests "* ]]; then
  gpu_tests "" '.*(Cuda|Gpu|BenchCommand|DeviceOption|Gemma2Test|MistralTest).*' "-- GPU tests"
fi

if [[ " $sections " == *" text "* ]]; then
  note "-- CPU vs GPU greedy text (tiller generate --temp 0)"
  same stories -m "$S/models/stories260K.gguf" -p "Once upon a time" -n 60
  same stories-steered -m "$S/models/stories260K.gguf" -p "The little dog was very sad because" -n 60 --control-vector-scaled "$S/reference/stories260K/happy_mean.gguf:0.6"
  same qwen2-chat -m "$S/models/tiny-random-qwen2.gguf" -p "Hello" --chat -n 32
  for t in f16 bf16 q8_0 q4_0; do
    q05 $t
    same "qwen05-$t" -m "$models/q05-$t.gguf" -p "The capital of France is" -n 32
  done
  # every product by cuBLAS (quantized weights through dequantized F16 tiles): the path prefill takes
  TILLER_CUDA_GEMV=0 same nogemv-qwen05-q4_0 -m "$models/q05-q4_0.gguf" -p "The capital of France is" -n 32
  export TILLER_CUDA_FUSED=1
  same fused-stories-steered -m "$S/models/stories260K.gguf" -p "The little dog was very sad because" -n 60 --control-vector-scaled "$S/reference/stories260K/happy_mean.gguf:0.6"
  same fused-qwen05-f16 -m "$models/q05-f16.gguf" -p "The capital of France is" -n 32
  unset TILLER_CUDA_FUSED
fi

if [[ " $sections " == *" q4 "* ]]; then
  note "-- Q4_0: where CPU and GPU part ways (teacher-forced along the CPU's greedy path)"
  [ -f "$models/q05-q4_0.gguf" ] || tiller models write --preset qwen2.5-0.5b --type q4_0 --tokenizer "$S/models/tiny-random-qwen2.gguf" -o "$models/q05-q4_0.gguf" > /dev/null
  tiller compare-devices -m "$models/q05-q4_0.gguf" -p "The capital of France is" -n 32 > "$out/q4-gpu.md" 2>&1
  TILLER_CUDA=emulator tiller compare-devices -m "$models/q05-q4_0.gguf" -p "The capital of France is" -n 32 > "$out/q4-emulator.md" 2>&1
  note "   GPU:      $(tail -1 "$out/q4-gpu.md")"
  note "   emulator: $(tail -1 "$out/q4-emulator.md")"
  paste -d' ' <(grep '^| [0-9]' "$out/q4-gpu.md" | cut -d'|' -f2-7) <(grep '^| [0-9]' "$out/q4-emulator.md" | cut -d'|' -f3-7) | head -40 > "$out/q4-side-by-side.txt"
fi

if [[ " $sections " == *" bench "* ]]; then
  note "-- bench --device cuda"
  for t in f16 bf16 q8_0 q4_0; do
    q05 $t
    tiller bench --device cuda -m "$models/q05-$t.gguf" -p 512 -n 128 -r 3 > "$out/bench-q05-$t.txt" 2>&1
    grep -E '^\| q05|^device:|error' "$out/bench-q05-$t.txt" | tee -a "$summary"
  done
  ratios "" "GEMV"
  if [ -z "${GPU_CHECK_QUICK:-}" ]; then
    tiller bench --device cuda -m "$models/q05-f16.gguf" -p 0 -n 128 -r 2 -d 4096 > "$out/bench-q05-f16-depth.txt" 2>&1
    grep -E '^\| q05|error' "$out/bench-q05-f16-depth.txt" | tee -a "$summary"
    [ -f "$models/l1b-f16.gguf" ] || tiller models write --preset llama-3.2-1b --type f16 -o "$models/l1b-f16.gguf" > /dev/null
    tiller bench --device cuda -m "$models/l1b-f16.gguf" -p 512 -n 128 -r 3 > "$out/bench-l1b-f16.txt" 2>&1
    grep -E '^\| l1b|error' "$out/bench-l1b-f16.txt" | tee -a "$summary"
  fi
  # the fused decode kernels (opt-in until a GPU has checked them: TILLER_CUDA_FUSED=1)
  for m in q05-f16 q05-q8_0; do
    TILLER_CUDA_FUSED=1 tiller bench --device cuda -m "$models/$m.gguf" -p 512 -n 128 -r 3 > "$out/bench-$m-fused.txt" 2>&1
    grep -E '^\| q05|error' "$out/bench-$m-fused.txt" | sed 's/$/ (fused)/' | tee -a "$summary"
  done
  if [ -z "${GPU_CHECK_QUICK:-}" ]; then
    TILLER_CUDA_FUSED=1 tiller bench --device cuda -m "$models/q05-f16.gguf" -p 0 -n 128 -r 2 -d 4096 2>&1 | grep -E '^\| q05|error' | sed 's/$/ (fused)/' | tee -a "$summary"
    TILLER_CUDA_FUSED=1 tiller bench --device cuda -m "$models/l1b-f16.gguf" -p 512 -n 128 -r 3 2>&1 | grep -E '^\| l1b|error' | sed 's/$/ (fused)/' | tee -a "$summary"
  fi
  # 64 sequences x 128 new tokens, each with its own vector on every block, then unsteered (host hooks, then device tables)
  tiller bench --device cuda -m "$models/q05-f16.gguf" --batch 64 -n 128 2>&1 | grep -E '^\| q05|steered /|error' | tee -a "$summary"
  TILLER_CUDA_FUSED=1 tiller bench --device cuda -m "$models/q05-f16.gguf" --batch 64 -n 128 2>&1 | grep -E '^\| q05|steered /|error' | sed 's/$/ (fused)/' | tee -a "$summary"
  tiller steer-overhead --device cuda -m "$S/models/stories260K.gguf" --vector "$S/reference/stories260K/happy_mean.gguf" -n 100 --rounds 5 > "$out/steer-overhead.txt" 2>&1
  note "   steer-overhead (stories260K, happy_mean on every block): $(tail -2 "$out/steer-overhead.txt" | tr '\n' ' ')"
  # fused: each block's vector is added by the next block's add_rmsnorm (no launch of its own)
  TILLER_CUDA_FUSED=1 tiller steer-overhead --device cuda -m "$S/models/stories260K.gguf" --vector "$S/reference/stories260K/happy_mean.gguf" -n 100 --rounds 5 > "$out/steer-overhead-fused.txt" 2>&1
  note "   steer-overhead fused (stories260K, happy_mean on every block): $(tail -2 "$out/steer-overhead-fused.txt" | tr '\n' ' ')"
fi
if [[ " $sections " == *" argmax "* ]]; then
  note "-- argmax: greedy decode with the argmax on the device (TILLER_CUDA_DEVICE_ARGMAX=1) or the row copied (=0)"
  gpu_tests argmax '.*(CudaArgmaxTest|CudaGreedyDecodeTest)' "   tests"
  q05 f16
  for a in 1 0; do
    TILLER_CUDA_DEVICE_ARGMAX=$a tiller bench --device cuda -m "$models/q05-f16.gguf" -p 0 -n 128 -r 5 > "$out/bench-argmax$a.txt" 2>&1
    grep -E '^\| q05|error' "$out/bench-argmax$a.txt" | sed "s/\$/ (TILLER_CUDA_DEVICE_ARGMAX=$a)/" | tee -a "$summary"
    TILLER_CUDA_DEVICE_ARGMAX=$a tiller generate -m "$models/q05-f16.gguf" -p "The capital of France is" -n 32 --temp 0 --device cuda \
      > "$out/text-argmax$a.txt" 2> "$out/text-argmax$a.err"
  done
  tiller generate -m "$models/q05-f16.gguf" -p "The capital of France is" -n 32 --temp 0 --device cpu > "$out/text-argmax-cpu.txt" 2>&1
  for a in 1 0; do
    if [ -s "$out/text-argmax-cpu.txt" ] && cmp -s "$out/text-argmax-cpu.txt" "$out/text-argmax$a.txt"; then note "   text q05-f16 (TILLER_CUDA_DEVICE_ARGMAX=$a): identical to the CPU's"
    else note "   text q05-f16 (TILLER_CUDA_DEVICE_ARGMAX=$a): DIFFERS from the CPU's $(tail -1 "$out/text-argmax$a.err")"; fi
  done
fi
if [[ " $sections " == *" quant "* ]]; then
  note "-- quant: weights read as stored (GEMV for decode; Q8_0, Q4_0, Q4_K, Q5_K, Q6_K kept quantized)"
  gpu_tests quant '.*(CudaGemvTest|CudaQuantizedWeightsTest|CudaTransformerTest)' "   tests"
  for t in f16 q8_0 q4_0; do
    q05 $t
    for g in 1 0; do
      sfx=$([ $g = 1 ] && echo "" || echo "-nogemv")
      TILLER_CUDA_GEMV=$g tiller bench --device cuda -m "$models/q05-$t.gguf" -p 512 -n 128 -r 3 > "$out/bench-q05-$t$sfx.txt" 2>&1
      grep -E '^\| q05|error' "$out/bench-q05-$t$sfx.txt" | sed "s/\$/ (TILLER_CUDA_GEMV=$g)/" | tee -a "$summary"
    done
    grep -E '^device:' "$out/bench-q05-$t.txt" | tee -a "$summary"
  done
  ratios "" "GEMV"
  ratios "-nogemv" "cuBLAS only"
  for t in q8_0 q4_0; do same "quant-qwen05-$t" -m "$models/q05-$t.gguf" -p "The capital of France is" -n 32; done
  # K-quants kept quantized (Q4_K as stored, Q6_K repacked, gemv_q4_k / gemv_q6_k): llama.cpp's Q4_K_M mix on the
  # Llama-3.2-1B shape (96 Q4_K + 17 Q6_K matrices) against the same shape in F16, and CPU vs GPU greedy text on it
  [ -f "$models/l1b-q4_k_m.gguf" ] || tiller models write --preset llama-3.2-1b --type q4_k_m --tokenizer "$S/models/stories260K.gguf" -o "$models/l1b-q4_k_m.gguf" > /dev/null
  [ -f "$models/l1b-f16.gguf" ] || tiller models write --preset llama-3.2-1b --type f16 -o "$models/l1b-f16.gguf" > /dev/null
  for m in l1b-q4_k_m l1b-f16; do
    tiller bench --device cuda -m "$models/$m.gguf" -p 512 -n 128 -r 3 > "$out/bench-$m.txt" 2>&1
    grep -E '^\| l1b|^device:|error' "$out/bench-$m.txt" | tee -a "$summary"
  done
  kq="$(tg "$out/bench-l1b-q4_k_m.txt")"; kf="$(tg "$out/bench-l1b-f16.txt")"
  note "   Llama-3.2-1B Q4_K_M decode vs F16: $(awk -v a="$kq" -v b="$kf" 'BEGIN{if (b > 0) printf "%.2fx", a / b; else print "?"}') (tg128 $kq vs $kf tok/s; it reads 0.30x the bytes)"
  # Qwen2.5-0.5B's Q4_K_M: its 896 columns are not whole super-blocks, so it is mostly Q5_0 (gemv_q5_0), some Q8_0
  q05 q4_k_m
  tiller bench --device cuda -m "$models/q05-q4_k_m.gguf" -p 512 -n 128 -r 3 > "$out/bench-q05-q4_k_m.txt" 2>&1
  grep -E '^\| q05|^device:|error' "$out/bench-q05-q4_k_m.txt" | tee -a "$summary"
  for m in l1b-q4_k_m q05-q4_k_m; do same "quant-$m" -m "$models/$m.gguf" -p "Once upon a time" -n 16; done
fi
if [[ " $sections " == *" ncu "* ]] && command -v ncu > /dev/null; then
  # one decoded token's kernels (after a 256-token prompt) with their durations: where decode time goes
  prompt="$(printf 'the %.0s' $(seq 1 250))"
  for t in f16 q4_0; do
  q05 $t
  csvf="$out/ncu$([ $t = f16 ] || echo "-$t").csv"
  timeout 120 ncu --clock-control none --target-processes all --launch-skip 1200 --launch-count 400 --csv --metrics gpu__time_duration.sum \
    "$JAVA" "${FLAGS[@]}" -cp "$here/lib/*" dev.tiller.cli.Tiller generate -m "$models/q05-$t.gguf" -p "$prompt" -n 8 --temp 0 --device cuda \
    > "$csvf" 2> "$out/ncu-$t.err"
  note "-- ncu (exit $?): per-kernel time over 400 launches of decode, q05-$t"
  python3 - "$csvf" <<'PY' | tee -a "$summary"
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows: print("   no ncu rows"); sys.exit()
h = rows[0]; k = h.index("Kernel Name"); v = h.index("Metric Value")
tot = collections.Counter(); cnt = collections.Counter()
for r in rows[1:]:
    try: tot[r[k][:60]] += float(r[v].replace(",", "")); cnt[r[k][:60]] += 1
    except ValueError: pass
s = sum(tot.values())
for name, t in tot.most_common(12): print(f"   {name:60s} {cnt[name]:4d} launches {t/1e3:9.1f} us {100*t/s:5.1f}%")
PY
  done
fi
if [[ " $sections " == *" train "* ]]; then
  note "-- train: forward and backward on the GPU in float32 (CudaFloatOps) vs the CPU float64 reference"
  gpu_tests train '.*(CudaGradientTest|CudaTrainingKernelsTest|CudaLossKernelsTest|CudaGemmaKernelsTest|CudaSamplingTest|GpuCommandsTest)' "   tests" \
    'GPU float32 vs|gradient error'
  [ -f "$models/q15-f16.gguf" ] || tiller models write --preset qwen2.5-1.5b --type f16 --tokenizer "$S/models/tiny-random-qwen2.gguf" -o "$models/q15-f16.gguf" > /dev/null
  words="$(printf 'the little dog ran to see a big red ball and %.0s' $(seq 1 7))"
  : > "$out/ce.jsonl"; : > "$out/grpo.jsonl"
  for i in $(seq 1 32); do echo "{\"prompt\":\"$i $words\",\"completion\":\" $words $i\"}" >> "$out/ce.jsonl"; done
  for i in $(seq 1 8); do echo "{\"prompt\":\"$i once upon a time\"}" >> "$out/grpo.jsonl"; done
  # CE, 32 rows of ~128 tokens: the step against the engine forward (the target: <= 1 s, backward <= 3x forward)
  tiller train --device cuda -m "$models/q15-f16.gguf" --data "$out/ce.jsonl" --batch 32 --profile --profile-reps 3 -o "$out/ce.steer" \
    > "$out/train-ce.txt" 2>&1
  grep -E '^(train:|profile|peak|error)' "$out/train-ce.txt" | sed 's/^/   ce q15-f16: /' | tee -a "$summary"
  # GRPO, 8 prompts x 8 samples, up to 256 new tokens (a random model: the reward is the length level, and 'q' stops a
  # sample, so lengths and rewards vary within a group; the target is <= 10 s per step)
  # (rollouts draw their tokens on the device, pick_rows; TILLER_CUDA_DEVICE_SAMPLING=0 copies every row to the host)
  for ds in 1 0; do
    TILLER_CUDA_DEVICE_SAMPLING=$ds tiller train --device cuda --objective grpo -m "$models/q15-f16.gguf" --data "$out/grpo.jsonl" --steps 3 \
      --batch 8 --group 8 --max-new 256 --reward length:128 --stop q -o "$out/grpo.steer" > "$out/train-grpo$ds.txt" 2>&1
    grep -E '^(train:|step|peak|error)' "$out/train-grpo$ds.txt" | sed "s/^/   grpo q15-f16 (TILLER_CUDA_DEVICE_SAMPLING=$ds): /" | tee -a "$summary"
  done
  # arith-mini, default GRPO (60 steps), GPU and this machine's CPU: the same dev accuracy, and which is faster
  for d in cuda cpu; do
    start=$(date +%s)
    tiller train --objective grpo -m "$S/models/arith-mini.gguf" --data "$S/data/arith/train.jsonl" --limit 2000 \
      --eval "$S/data/arith/dev.jsonl" --device $d -o "$out/arith-$d.steer" > "$out/train-arith-$d.txt" 2>&1
    note "   arith-mini grpo --device $d: $(grep -E '^eval after' "$out/train-arith-$d.txt") $(( $(date +%s) - start )) s wall" \
      "$(grep -E '^peak' "$out/train-arith-$d.txt")"
  done
fi
if [[ " $sections " == *" tiled "* ]]; then
  note "-- tiled: prefill attention by attention_tiled (TILLER_CUDA_TILED_ATTENTION=1) against the row kernel (=0)"
  TILLER_CUDA_TILED_ATTENTION=1 gpu_tests tiled '.*(engine\.cuda\..*|Gemma2Test|MistralTest|CudaTiledAttentionTest)' \
    "   tests (TILLER_CUDA_TILED_ATTENTION=1)" 'tiled GPU vs CPU'
  q05 f16
  prompt="$(printf 'the little dog ran to see a big red ball and %.0s' $(seq 1 12))"   # about 120 tokens: 8 tiles
  tiller generate -m "$models/q05-f16.gguf" -p "$prompt" -n 32 --temp 0 --device cpu > "$out/text-tiled-cpu.txt" 2> "$out/text-tiled-cpu.err"
  for a in 0 1; do
    TILLER_CUDA_TILED_ATTENTION=$a tiller generate -m "$models/q05-f16.gguf" -p "$prompt" -n 32 --temp 0 --device cuda \
      > "$out/text-tiled$a.txt" 2> "$out/text-tiled$a.err"
    if [ -s "$out/text-tiled-cpu.txt" ] && cmp -s "$out/text-tiled-cpu.txt" "$out/text-tiled$a.txt"; then note "   text q05-f16 (TILLER_CUDA_TILED_ATTENTION=$a): identical to the CPU's"
    else note "   text q05-f16 (TILLER_CUDA_TILED_ATTENTION=$a): DIFFERS from the CPU's $(tail -1 "$out/text-tiled$a.err")"; fi
  done
  for p in 512 4096; do
    for a in 0 1; do
      TILLER_CUDA_TILED_ATTENTION=$a tiller bench --device cuda -m "$models/q05-f16.gguf" -p $p -n 0 -r 2 > "$out/bench-tiled$a-pp$p.txt" 2>&1
      grep -E '^\| q05|error' "$out/bench-tiled$a-pp$p.txt" | sed "s/\$/ (TILLER_CUDA_TILED_ATTENTION=$a)/" | tee -a "$summary"
    done
  done
fi
note "== done"
