// The K-quant decoding of kernels/src/main/cuda/tiller_kernels.cu compiled for the host (kquant-sim.sh builds and runs it):
// q4_k_weight / q5_k_weight / q6_k_weight / repack_q6_k (bit for bit) and the GEMV's per-load dot products (GemvQ4_K,
// GemvQ5_K, GemvQ6_K) against
// the CPU engine's dequantization of the same ggml blocks, which KQuantGen writes (raw blocks, then the float32 weights). The
// GEMV check sums every load of a row as the kernel's lanes would and compares with a float64 product, so a wrong
// column mapping inside a super-block fails it. Not a GPU: no warps, shared memory or timing, only the arithmetic.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <random>
#include <algorithm>
using std::min; using std::max;
struct D3 { unsigned x = 0, y = 0, z = 0; };
static D3 threadIdx, blockIdx, blockDim{1, 1, 1}, gridDim{1, 1, 1};
#define __global__
#define __device__
#define __forceinline__ inline
struct int4 { int x, y, z, w; };
static int4 make_int4(int x, int y, int z, int w) { return int4{x, y, z, w}; }
struct __half { unsigned short bits; };
static float __half2float(__half h) { // IEEE binary16 -> float, subnormals included
    unsigned s = (h.bits >> 15) & 1, e = (h.bits >> 10) & 31, m = h.bits & 1023;
    float v = e == 0 ? std::ldexp((float) m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp((float) (m | 1024), (int) e - 25);
    return s ? -v : v;
}
static __half __ushort_as_half(unsigned short b) { return __half{b}; }
static __half __float2half_rn(float) { std::abort(); } // the f16 tiles are checked by the Java tests, not here
static float __fmul_rn(float a, float b) { volatile float r = a * b; return r; }
static float __fsub_rn(float a, float b) { volatile float r = a - b; return r; }
static float __fadd_rn(float a, float b) { volatile float r = a + b; return r; }
static int4 __ldg(const int4* p) { int4 v; std::memcpy(&v, p, 16); return v; }
static int __ldg(const int* p) { int v; std::memcpy(&v, p, 4); return v; }
#include "kquant.inc"

static std::vector<uint8_t> readBytes(const char* path) {
    FILE* f = fopen(path, "rb"); if (!f) { perror(path); exit(2); }
    std::vector<uint8_t> b; int c; while ((c = fgetc(f)) != EOF) b.push_back((uint8_t) c); fclose(f); return b;
}

int main(int argc, char** argv) {
    // argv: type (6 Q5_0, 3 Q4_1, 7 Q5_1, 12 Q4_K, 13 Q5_K, 14 Q6_K), rows, cols, raw blocks file, float32 weights file
    int type = atoi(argv[1]), rows = atoi(argv[2]), cols = atoi(argv[3]);
    std::vector<uint8_t> raw = readBytes(argv[4]), wb = readBytes(argv[5]);
    long n = (long) rows * cols, nblocks = n / (type < 12 ? 32 : 256);
    std::vector<float> cpu(n); std::memcpy(cpu.data(), wb.data(), 4 * n);
    double largest = 0; for (float v : cpu) largest = std::max(largest, (double) std::fabs(v));
    // the device form: Q4_K / Q5_K as stored, Q6_K through repack_q6_k (grid-stride loop run by one "thread")
    std::vector<uint8_t> qs; std::vector<__half> d(2 * nblocks);
    if (type == 12 || type == 13) qs = raw;
    else if (type == 6) { qs.assign(nblocks * 20, 0); repack_q5_0(qs.data(), d.data(), raw.data(), nblocks); }
    else if (type == 3) { qs.assign(nblocks * 16, 0); repack_q4_1(qs.data(), d.data(), raw.data(), nblocks); }
    else if (type == 7) { qs.assign(nblocks * 20, 0); repack_q5_1(qs.data(), d.data(), raw.data(), nblocks); }
    else { qs.assign(nblocks * 208, 0); repack_q6_k(qs.data(), d.data(), raw.data(), nblocks); }
    alignas(16) static uint8_t aligned[1 << 24];
    if (qs.size() > sizeof aligned) { fprintf(stderr, "too large\n"); return 2; }
    std::memcpy(aligned, qs.data(), qs.size());
    int bad = 0;
    for (long i = 0; i < n; i++) {
        float v = type == 6 ? q5_0_weight(aligned, d.data(), i) : type == 3 ? q4_1_weight(aligned, d.data(), i) : type == 7 ? q5_1_weight(aligned, d.data(), i) : type == 12 ? q4_k_weight(aligned, i) : type == 13 ? q5_k_weight(aligned, i) : q6_k_weight(aligned, d.data(), i);
        if (v != cpu[i]) { if (bad++ < 5) fprintf(stderr, "weight %ld: device %g, CPU %g\n", i, v, cpu[i]); }
    }
    std::mt19937 rng(7); std::normal_distribution<float> g;
    std::vector<float> x(cols); for (auto& v : x) v = g(rng);
    int vec = type == 14 ? GemvQ6_K::VEC : 32;
    for (int r = 0; r < rows; r++) {
        float acc[GEMV_MAX_N] = {0};
        for (int col = 0; col < cols; col += vec) {
            if (type == 12) GemvQ4_K::dot(aligned, nullptr, r, cols, col, x.data(), cols, col, 1, acc);
            else if (type == 6) GemvQ5_0::dot(aligned, d.data(), r, cols, col, x.data(), cols, col, 1, acc);
            else if (type == 3) GemvQx_1<false>::dot(aligned, d.data(), r, cols, col, x.data(), cols, col, 1, acc);
            else if (type == 7) GemvQx_1<true>::dot(aligned, d.data(), r, cols, col, x.data(), cols, col, 1, acc);
            else if (type == 13) GemvQ5_K::dot(aligned, nullptr, r, cols, col, x.data(), cols, col, 1, acc);
            else GemvQ6_K::dot(aligned, d.data(), r, cols, col, x.data(), cols, col, 1, acc);
        }
        double exact = 0, mag = 0;
        for (int c = 0; c < cols; c++) { double p = (double) cpu[(long) r * cols + c] * x[c]; exact += p; mag += std::fabs(p); }
        if (std::fabs(acc[0] - exact) > 2e-6 * mag + 1e-6) { if (bad++ < 10) fprintf(stderr, "row %d: GEMV loads %g, float64 %g\n", r, acc[0], exact); }
    }
    printf("%s %dx%d: %s\n", type == 6 ? "Q5_0" : type == 3 ? "Q4_1" : type == 7 ? "Q5_1" : type == 12 ? "Q4_K" : type == 13 ? "Q5_K" : "Q6_K", rows, cols, bad ? "MISMATCH" : "weights and GEMV loads equal the CPU's");
    return bad ? 1 : 0;
}
