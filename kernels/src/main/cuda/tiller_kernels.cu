// Tiller's CUDA kernels. Compiled ahead of time by build.sh into tiller_kernels.fatbin (SASS for sm_80 and sm_90,
// PTX for compute_80) and loaded with cuModuleLoadData; every kernel is extern "C" so its name is its symbol.
// Activations are float32 row-major [rows][width], as in the CPU path (dev.tiller.engine.model.Transformer).
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>

#define WARP 32

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float block_sum(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    int warps = (blockDim.x + WARP - 1) / WARP;
    float s = lane < warps ? partial[lane] : 0.0f;
    return warp_sum(s);
}

// Max over the whole block, as block_sum (its own shared array; the barrier at the start lets it follow another
// reduction directly): every thread gets the result.
__device__ float block_max(float v) {
    __shared__ float partial_max[32];
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) partial_max[warp] = v;
    __syncthreads();
    int warps = (blockDim.x + WARP - 1) / WARP;
    float m = lane < warps ? partial_max[lane] : -INFINITY;
    return warp_max(m);
}

// ---------------------------------------------------------------- conversions

extern "C" __global__ void f32_to_f16(__half* out, const float* in, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2half_rn(in[i]);
}

extern "C" __global__ void f32_to_bf16(__nv_bfloat16* out, const float* in, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2bfloat16_rn(in[i]);
}

// ---------------------------------------------------------------- quantized weights on the device
// Q8_0 and Q4_0 matrices stay quantized on the device (no F16 copy). ggml interleaves each 32-weight block's f16
// scale with its quants (34 or 18 bytes a block), which leaves the quants without the 16-byte alignment a vector load
// needs, so the upload repacks every matrix into two arrays:
//   quants  Q8_0: int8 [rows][cols]           Q4_0: bytes [rows][cols/2], each block's 16 bytes as in ggml (byte j
//           holds weight j in its low nibble and weight j+16 in its high nibble, both stored as value + 8)
//   scales  f16 [rows][cols/32], one per block
// cols is a multiple of 32, so every row of quants starts 16-byte aligned (allocations are 256-byte aligned), and the
// rows r0..r1 of a matrix are the pair (quants + r0 * rowBytes, scales + r0 * cols/32): the q, k, v (gate, up) views
// of a stacked q|k|v (gate|up) matrix stay plain views.

// ggml Q8_0 blocks -> quants and scales (one thread per quant; the block's first thread copies its scale).
extern "C" __global__ void repack_q8_0(int8_t* qs, __half* d, const uint8_t* blocks, long nblocks) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < nblocks * 32; i += (long) gridDim.x * blockDim.x) {
        long b = i / 32; int j = (int) (i % 32);
        const uint8_t* blk = blocks + b * 34;
        qs[i] = (int8_t) blk[2 + j];
        if (j == 0) d[b] = *reinterpret_cast<const __half*>(blk); // b * 34 is even: an aligned 2-byte read
    }
}

// ggml Q4_0 blocks -> packed nibbles (ggml's order kept) and scales (one thread per byte of quants).
extern "C" __global__ void repack_q4_0(uint8_t* qs, __half* d, const uint8_t* blocks, long nblocks) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < nblocks * 16; i += (long) gridDim.x * blockDim.x) {
        long b = i / 16; int j = (int) (i % 16);
        const uint8_t* blk = blocks + b * 18;
        qs[i] = blk[2 + j];
        if (j == 0) d[b] = *reinterpret_cast<const __half*>(blk);
    }
}

// Repacked Q8_0 (the first n weights of quants and scales, n a multiple of 32) -> f16: out[i] = d[i/32] * q[i].
// Prefill dequantizes a tile of rows at a time into a scratch buffer for cuBLAS.
extern "C" __global__ void dequant_q8_0_f16(__half* out, const int8_t* qs, const __half* d, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x)
        out[i] = __float2half_rn(__half2float(d[i / 32]) * (float) qs[i]);
}

// Repacked Q4_0 -> f16: weight j of block b is nibble (j < 16 ? low : high) of byte b*16 + j%16, minus 8, times d[b].
extern "C" __global__ void dequant_q4_0_f16(__half* out, const uint8_t* qs, const __half* d, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        long b = i / 32; int j = (int) (i % 32);
        uint8_t q = qs[b * 16 + (j % 16)];
        int v = j < 16 ? (q & 0x0F) : (q >> 4);
        out[i] = __float2half_rn(__half2float(d[b]) * (float) (v - 8));
    }
}

// Q5_0 (22-byte blocks: f16 d, 4 bytes of fifth bits qh, 16 bytes of nibbles; Qwen2.5-0.5B's Q4_K_M file is mostly
// Q5_0, as its 896 columns are not whole K-quant super-blocks) stays quantized too: repacked into 20-byte blocks (the
// 16 nibble bytes as in ggml, then qh) and f16 scales [rows][cols/32]. 20-byte blocks are 4-byte aligned, so the GEMV
// reads them as five 4-byte words. Weight j of a block: nibble (j < 16 ? low : high) of byte j % 16, plus 16 times
// bit j of qh (little-endian), minus 16, times d.
extern "C" __global__ void repack_q5_0(uint8_t* qs, __half* d, const uint8_t* blocks, long nblocks) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < nblocks * 20; i += (long) gridDim.x * blockDim.x) {
        long b = i / 20; int j = (int) (i % 20);
        const uint8_t* blk = blocks + b * 22;
        qs[i] = j < 16 ? blk[6 + j] : blk[2 + (j - 16)];
        if (j == 0) d[b] = *reinterpret_cast<const __half*>(blk); // b * 22 is even: an aligned 2-byte read
    }
}

// The unsigned 5-bit quant of weight i of repacked Q5_0 / Q5_1 (20-byte blocks: nibbles, then the fifth bits).
__device__ __forceinline__ int q5_quant(const uint8_t* qs, long i) {
    const uint8_t* blk = qs + (i / 32) * 20;
    int j = (int) (i % 32);
    uint8_t q = blk[j % 16];
    return (j < 16 ? (q & 0x0F) : (q >> 4)) | (((blk[16 + j / 8] >> (j % 8)) & 1) << 4);
}

__device__ __forceinline__ float q5_0_weight(const uint8_t* qs, const __half* d, long i) {
    return __half2float(d[i / 32]) * (float) (q5_quant(qs, i) - 16);
}

// Repacked Q5_0 -> f16 (prefill's tiles for cuBLAS), the first n weights (whole rows).
extern "C" __global__ void dequant_q5_0_f16(__half* out, const uint8_t* qs, const __half* d, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2half_rn(q5_0_weight(qs, d, i));
}

// Q4_1 and Q5_1 (20- and 24-byte blocks: f16 d, f16 m, [qh[4]], qs[16]; weight = q * d + m, q unsigned) stay
// quantized too: their quants repacked as Q4_0's (16 bytes a block) and Q5_0's (20), and their scales as pairs
// [rows][cols/32][d, m] of f16. The weight is computed as the CPU's dequantization does: a multiply, then an add.
extern "C" __global__ void repack_q4_1(uint8_t* qs, __half* dm, const uint8_t* blocks, long nblocks) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < nblocks * 16; i += (long) gridDim.x * blockDim.x) {
        long b = i / 16; int j = (int) (i % 16);
        const uint8_t* blk = blocks + b * 20;
        qs[i] = blk[4 + j];
        if (j < 2) dm[2 * b + j] = *reinterpret_cast<const __half*>(blk + 2 * j); // b * 20 + 2j is even
    }
}

extern "C" __global__ void repack_q5_1(uint8_t* qs, __half* dm, const uint8_t* blocks, long nblocks) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < nblocks * 20; i += (long) gridDim.x * blockDim.x) {
        long b = i / 20; int j = (int) (i % 20);
        const uint8_t* blk = blocks + b * 24;
        qs[i] = j < 16 ? blk[8 + j] : blk[4 + (j - 16)];
        if (j < 2) dm[2 * b + j] = *reinterpret_cast<const __half*>(blk + 2 * j);
    }
}

__device__ __forceinline__ float q4_1_weight(const uint8_t* qs, const __half* dm, long i) {
    long b = i / 32; int j = (int) (i % 32);
    uint8_t q = qs[b * 16 + j % 16];
    return __fadd_rn(__fmul_rn((float) (j < 16 ? (q & 0x0F) : (q >> 4)), __half2float(dm[2 * b])), __half2float(dm[2 * b + 1]));
}

__device__ __forceinline__ float q5_1_weight(const uint8_t* qs, const __half* dm, long i) {
    long b = i / 32;
    return __fadd_rn(__fmul_rn((float) q5_quant(qs, i), __half2float(dm[2 * b])), __half2float(dm[2 * b + 1]));
}

// Repacked Q4_1 / Q5_1 -> f16 (d: the (d, m) pairs).
extern "C" __global__ void dequant_q4_1_f16(__half* out, const uint8_t* qs, const __half* d, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2half_rn(q4_1_weight(qs, d, i));
}

extern "C" __global__ void dequant_q5_1_f16(__half* out, const uint8_t* qs, const __half* d, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2half_rn(q5_1_weight(qs, d, i));
}

// ---------------------------------------------------------------- K-quants on the device
// Q4_K, Q5_K and Q6_K (llama.cpp's Q4_K_M / Q5_K_M mixes are made of them) stay quantized as well, in 256-weight
// super-blocks, so that a Q4_K_M model takes 0.56-0.82 bytes per weight on the device instead of an F16 copy's 2:
//   Q4_K  ggml's 144-byte blocks as stored: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, then 128 bytes of
//         nibbles (bytes 32g .. 32g+31 hold sub-block 2g in their low nibbles and 2g+1 in their high ones). 144 is a
//         multiple of 16, so the blocks are uploaded unchanged and there is no scales array (scales = 0).
//   Q5_K  ggml's 176-byte blocks as stored (11 * 16): Q4_K's header, then qh[32], then the 128 nibble bytes; weight l
//         of sub-block 2g (2g+1) adds 16 times bit 2g (2g+1) of qh[l]. No scales array either.
//   Q6_K  ggml's 210-byte blocks (ql[128], qh[64], int8 scales[16], f16 d) repacked into 208-byte blocks (ql, qh,
//         scales as stored) and an array of f16 d [rows][cols/256]: 208 = 13 * 16 keeps every block 16-byte aligned.
// cols is a multiple of 256, so row r0 of a matrix starts at r0 * cols/256 blocks, as for Q8_0 / Q4_0. Weight i of a
// run of whole rows is at position j = i % 256 of block i / 256. Each weight is computed the same way wherever it is
// read (GEMV, F16 tiles, the embedding, training's float32 tiles), and as the CPU's dequantization does, rounding for
// rounding: Q4_K / Q5_K q * (d * scale) - dmin * min (a multiply, then a subtract: no fused multiply-add), Q6_K
// (d * scale) * (q - 32).

// Byte idx (0..15, any value at run time) of a 16-byte value held in registers: selects and a shift, where indexing
// its bytes through a pointer would put the value in local memory.
__device__ __forceinline__ int byte_of(int4 v, int idx) {
    int word = idx < 8 ? (idx < 4 ? v.x : v.y) : (idx < 12 ? v.z : v.w);
    return (word >> (8 * (idx & 3))) & 0xFF;
}

// Sub-block sb's (0..7) factors from a Q4_K block's 16-byte header (f16 d, f16 dmin, 12 scale bytes) held in
// registers: weight = q * *ds - *dm, ds = d * scale, dm = dmin * min, with ggml's 6-bit scale and min
// (get_scale_min_k4: sub-blocks 0-3 in the low 6 bits of scale bytes 0-3 and 4-7; 4-7 in the nibbles of bytes 8-11
// and the top 2 bits of bytes 0-7).
__device__ __forceinline__ void q4_k_factors(int4 header, int sb, float* ds, float* dm) {
    int sc, m;
    if (sb < 4) {
        sc = byte_of(header, 4 + sb) & 63;
        m = byte_of(header, 8 + sb) & 63;
    } else {
        int low = byte_of(header, 8 + sb);
        sc = (low & 0x0F) | ((byte_of(header, sb) >> 6) << 4);
        m = (low >> 4) | ((byte_of(header, 4 + sb) >> 6) << 4);
    }
    *ds = __half2float(__ushort_as_half((unsigned short) (header.x & 0xFFFF))) * (float) sc;
    *dm = __half2float(__ushort_as_half((unsigned short) ((unsigned) header.x >> 16))) * (float) m;
}

// Weight i of Q4_K (BYTES 144, nibbles at QS 16) or Q5_K (176, 48, with qh[32] at 16: bit sb of qh[l] adds 16).
template <int BYTES, int QS>
__device__ __forceinline__ float q45_k_weight(const uint8_t* blocks, long i) {
    const uint8_t* blk = blocks + (i / 256) * BYTES;
    int j = (int) (i % 256), g = j / 64, within = j % 64, sb = 2 * g + within / 32, l = within % 32;
    uint8_t q = blk[QS + 32 * g + l];
    int v = (within < 32 ? (q & 0x0F) : (q >> 4)) | (QS > 16 ? ((blk[16 + l] >> sb) & 1) << 4 : 0);
    float ds, dm;
    q4_k_factors(*reinterpret_cast<const int4*>(blk), sb, &ds, &dm);
    return __fsub_rn(__fmul_rn((float) v, ds), dm);
}

__device__ __forceinline__ float q4_k_weight(const uint8_t* blocks, long i) { return q45_k_weight<144, 16>(blocks, i); }

__device__ __forceinline__ float q5_k_weight(const uint8_t* blocks, long i) { return q45_k_weight<176, 48>(blocks, i); }

// Repacked Q6_K weight j = 128h + 32u + l (l < 32) of a block: its low 4 bits are a nibble of ql[64h + 32(u&1) + l]
// (the low one for u < 2), its top 2 bits are bits 2u, 2u+1 of qh[32h + l], its scale is scales[8h + 2u + l/16].
__device__ __forceinline__ float q6_k_weight(const uint8_t* blocks, const __half* d, long i) {
    const uint8_t* blk = blocks + (i / 256) * 208;
    int j = (int) (i % 256), h = j / 128, u = (j % 128) / 32, l = j % 32;
    uint8_t low = blk[64 * h + 32 * (u & 1) + l];
    int q = (u < 2 ? (low & 0x0F) : (low >> 4)) | (((blk[128 + 32 * h + l] >> (2 * u)) & 3) << 4);
    float ds = __half2float(d[i / 256]) * (float) (int8_t) blk[192 + 8 * h + 2 * u + l / 16];
    return ds * (float) (q - 32);
}

// ggml Q6_K blocks -> 208-byte blocks and f16 d (one thread per byte of the output blocks).
extern "C" __global__ void repack_q6_k(uint8_t* qs, __half* d, const uint8_t* blocks, long nblocks) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < nblocks * 208; i += (long) gridDim.x * blockDim.x) {
        long b = i / 208; int j = (int) (i % 208);
        const uint8_t* blk = blocks + b * 210;
        qs[i] = blk[j];
        if (j == 0) d[b] = *reinterpret_cast<const __half*>(blk + 208); // b * 210 + 208 is even: an aligned read
    }
}

// Q4_K / Q5_K (as stored; d unused: the scales are in the blocks) and repacked Q6_K -> f16.
extern "C" __global__ void dequant_q4_k_f16(__half* out, const uint8_t* qs, const __half* d, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2half_rn(q4_k_weight(qs, i));
}

extern "C" __global__ void dequant_q5_k_f16(__half* out, const uint8_t* qs, const __half* d, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2half_rn(q5_k_weight(qs, i));
}

extern "C" __global__ void dequant_q6_k_f16(__half* out, const uint8_t* qs, const __half* d, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2half_rn(q6_k_weight(qs, d, i));
}

// ---------------------------------------------------------------- GEMV: matrix products of a few rows (decode)
// y[t][r] = sum_c x[t][c] * W[r][c] for n <= GEMV_MAX_N activation rows (float32 in, float32 out), W read in its
// stored format. Decode multiplies one row per sequence, so it is bound by the bytes of W read, not by arithmetic:
// cuBLAS with n = 1 also reads a converted copy of x and, for quantized formats, an F16 copy of W.
//
// Each output row belongs to `split` warps (1, 2 or 4) of a GEMV_WARPS-warp block, so a block covers
// GEMV_WARPS / split rows. A row's 16-byte loads (8 f16/bf16 weights, 16 Q8_0 quants, or one whole 32-weight Q4_0
// block) are dealt out round-robin to the split * 32 lanes; each lane dequantizes in registers, multiplies with the n
// rows of x and keeps n partial sums; a shuffle reduction ends each warp's share and, when split > 1, shared memory
// adds the warps' shares. The host picks split so that short matrices (896 rows of 4864 columns, say) still put
// enough warps, and enough loads in flight, on every multiprocessor.
//
// x is staged in shared memory, `tile` columns at a time ([n][tile] floats of dynamic shared memory), read by all the
// block's warps: tile = min(GEMV_SMEM_FLOATS / n rounded down to 1024, cols rounded up to 1024), so a decode step
// (n = 1) of rows up to 8192 columns stages x once. No host synchronisation: capturable in graphs.
// Launch: grid ceil(rows / (GEMV_WARPS / split)), block GEMV_WARPS * 32, n * tile * 4 bytes of shared memory;
// cols a multiple of the format's VEC, W rows and x 16-byte aligned.
#define GEMV_WARPS 4
#define GEMV_MAX_N 8
#define GEMV_SMEM_FLOATS 8192

// x[t][c .. c+3] from the staged tile (rows `ld` floats apart) as a float4 (16-byte aligned: c and ld multiples of 4).
__device__ __forceinline__ float4 xs4(const float* xs, int ld, int t, int c) {
    return *reinterpret_cast<const float4*>(xs + t * ld + c);
}

// 8 weights w[0..7] (already float) against x[t][c..c+7] for every t < n, each group summed left to right.
__device__ __forceinline__ void dot8(const float* w, const float* xs, int ld, int c, int n, float* acc) {
#pragma unroll
    for (int t = 0; t < GEMV_MAX_N; t++) {
        if (t >= n) break;
        float4 a = xs4(xs, ld, t, c), b = xs4(xs, ld, t, c + 4);
        acc[t] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
    }
}

// One 16-byte load of row `row` at column `col` (global) against the staged x at tile column c, per format.
struct GemvF16 {
    static constexpr int VEC = 8;
    __device__ static void dot(const void* w, const __half* scales, int row, int cols, int col, const float* xs, int ld, int c, int n, float* acc) {
        int4 raw = __ldg(reinterpret_cast<const int4*>(reinterpret_cast<const __half*>(w) + (long) row * cols + col));
        const __half2* h = reinterpret_cast<const __half2*>(&raw);
        float f[8];
#pragma unroll
        for (int k = 0; k < 4; k++) { float2 p = __half22float2(h[k]); f[2 * k] = p.x; f[2 * k + 1] = p.y; }
        dot8(f, xs, ld, c, n, acc);
    }
};

struct GemvBF16 {
    static constexpr int VEC = 8;
    __device__ static void dot(const void* w, const __half* scales, int row, int cols, int col, const float* xs, int ld, int c, int n, float* acc) {
        int4 raw = __ldg(reinterpret_cast<const int4*>(reinterpret_cast<const __nv_bfloat16*>(w) + (long) row * cols + col));
        const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
        float f[8];
#pragma unroll
        for (int k = 0; k < 4; k++) { float2 p = __bfloat1622float2(h[k]); f[2 * k] = p.x; f[2 * k + 1] = p.y; }
        dot8(f, xs, ld, c, n, acc);
    }
};

struct GemvQ8_0 {
    static constexpr int VEC = 16; // half a block: the scale multiplies this half's sum
    __device__ static void dot(const void* w, const __half* scales, int row, int cols, int col, const float* xs, int ld, int c, int n, float* acc) {
        int4 raw = __ldg(reinterpret_cast<const int4*>(reinterpret_cast<const int8_t*>(w) + (long) row * cols + col));
        float d = __half2float(scales[(long) row * (cols / 32) + col / 32]);
        const int8_t* q = reinterpret_cast<const int8_t*>(&raw);
        float f[16];
#pragma unroll
        for (int k = 0; k < 16; k++) f[k] = (float) q[k];
        float s[GEMV_MAX_N];
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) s[t] = 0.0f;
        dot8(f, xs, ld, c, n, s);
        dot8(f + 8, xs, ld, c + 8, n, s);
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) acc[t] += d * s[t];
    }
};

struct GemvQ4_0 {
    static constexpr int VEC = 32; // one whole block per 16-byte load
    __device__ static void dot(const void* w, const __half* scales, int row, int cols, int col, const float* xs, int ld, int c, int n, float* acc) {
        int4 raw = __ldg(reinterpret_cast<const int4*>(reinterpret_cast<const uint8_t*>(w) + (long) row * (cols / 2) + col / 2));
        float d = __half2float(scales[(long) row * (cols / 32) + col / 32]);
        const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
        float lo[16], hi[16];
#pragma unroll
        for (int k = 0; k < 16; k++) { lo[k] = (float) ((q[k] & 0x0F) - 8); hi[k] = (float) ((q[k] >> 4) - 8); }
        float s[GEMV_MAX_N];
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) s[t] = 0.0f;
        dot8(lo, xs, ld, c, n, s);      // weights 0..15 against x[c .. c+15]
        dot8(lo + 8, xs, ld, c + 8, n, s);
        dot8(hi, xs, ld, c + 16, n, s); // weights 16..31 against x[c+16 .. c+31]
        dot8(hi + 8, xs, ld, c + 24, n, s);
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) acc[t] += d * s[t];
    }
};

// Q5_0 (repacked): one whole 32-weight block per lane step, five 4-byte loads (its 20-byte blocks are 4-byte aligned).
struct GemvQ5_0 {
    static constexpr int VEC = 32;
    __device__ static void dot(const void* w, const __half* scales, int row, int cols, int col, const float* xs, int ld, int c, int n, float* acc) {
        long b = (long) row * (cols / 32) + col / 32;
        const int* p = reinterpret_cast<const int*>(reinterpret_cast<const uint8_t*>(w) + b * 20);
        int words[4] = {__ldg(p), __ldg(p + 1), __ldg(p + 2), __ldg(p + 3)};
        unsigned qh = (unsigned) __ldg(p + 4);
        float d = __half2float(scales[b]);
        float lo[16], hi[16];
#pragma unroll
        for (int k = 0; k < 16; k++) {
            int q = (words[k / 4] >> (8 * (k % 4))) & 0xFF;
            int h0 = (int) ((qh >> k) & 1u), h1 = (int) ((qh >> (k + 16)) & 1u); // int: "- 16" must not wrap as unsigned
            lo[k] = (float) (((q & 0x0F) | (h0 << 4)) - 16);
            hi[k] = (float) (((q >> 4) | (h1 << 4)) - 16);
        }
        float s[GEMV_MAX_N];
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) s[t] = 0.0f;
        dot8(lo, xs, ld, c, n, s);
        dot8(lo + 8, xs, ld, c + 8, n, s);
        dot8(hi, xs, ld, c + 16, n, s);
        dot8(hi + 8, xs, ld, c + 24, n, s);
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) acc[t] += d * s[t];
    }
};

// Q4_1 / Q5_1 (repacked; FIVE: with the 4 bytes of fifth bits after the nibbles): one whole block per lane step, its
// weights made in registers as q * d + m (a multiply, then an add: the CPU's rounding), then 8-weight groups.
template <bool FIVE>
struct GemvQx_1 {
    static constexpr int VEC = 32;
    __device__ static void dot(const void* w, const __half* scales, int row, int cols, int col, const float* xs, int ld, int c, int n, float* acc) {
        long b = (long) row * (cols / 32) + col / 32;
        const int* p = reinterpret_cast<const int*>(reinterpret_cast<const uint8_t*>(w) + b * (FIVE ? 20 : 16));
        int words[4] = {__ldg(p), __ldg(p + 1), __ldg(p + 2), __ldg(p + 3)};
        unsigned qh = FIVE ? (unsigned) __ldg(p + 4) : 0u;
        float d = __half2float(scales[2 * b]), m = __half2float(scales[2 * b + 1]);
        float lo[16], hi[16];
#pragma unroll
        for (int k = 0; k < 16; k++) {
            int q = (words[k / 4] >> (8 * (k % 4))) & 0xFF;
            int h0 = (int) ((qh >> k) & 1u), h1 = (int) ((qh >> (k + 16)) & 1u);
            lo[k] = __fadd_rn(__fmul_rn((float) ((q & 0x0F) | (h0 << 4)), d), m);
            hi[k] = __fadd_rn(__fmul_rn((float) ((q >> 4) | (h1 << 4)), d), m);
        }
        float s[GEMV_MAX_N];
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) s[t] = 0.0f;
        dot8(lo, xs, ld, c, n, s);
        dot8(lo + 8, xs, ld, c + 8, n, s);
        dot8(hi, xs, ld, c + 16, n, s);
        dot8(hi + 8, xs, ld, c + 24, n, s);
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) acc[t] += s[t];
    }
};

// Q4_K and Q5_K (BYTES 144 / 176: Q5_K adds qh[32] between the 16-byte header and the nibbles at QS): a load is 16 of
// a block's 128 nibble bytes, load k (0..7) bytes 16k .. 16k+15: weights 64g + 16(k%2) + 0..15 of sub-block 2g (low
// nibbles) and the same 16 positions + 32 of sub-block 2g+1 (high), g = k/2. The block's 16-byte header (d, dmin,
// scales) is a second load, shared through L1 by the block's eight lanes; Q5_K's fifth bits (bit 2g, 2g+1 of
// qh[16(k%2) + i]) a third.
template <int BYTES, int QS>
struct GemvQ45_K {
    static constexpr int VEC = 32;
    __device__ static void dot(const void* w, const __half* scales, int row, int cols, int col, const float* xs, int ld, int c, int n, float* acc) {
        const uint8_t* blk = reinterpret_cast<const uint8_t*>(w) + ((long) row * (cols / 256) + col / 256) * BYTES;
        int k = (col % 256) / 32, g = k / 2;
        int4 head = __ldg(reinterpret_cast<const int4*>(blk));
        int4 raw = __ldg(reinterpret_cast<const int4*>(blk + QS + 16 * k));
        int4 rawH = QS > 16 ? __ldg(reinterpret_cast<const int4*>(blk + 16 + 16 * (k % 2))) : make_int4(0, 0, 0, 0);
        const uint8_t* q = reinterpret_cast<const uint8_t*>(&raw);
        const uint8_t* qh = reinterpret_cast<const uint8_t*>(&rawH);
        float ds1, dm1, ds2, dm2;
        q4_k_factors(head, 2 * g, &ds1, &dm1);
        q4_k_factors(head, 2 * g + 1, &ds2, &dm2);
        float lo[16], hi[16];
#pragma unroll
        for (int i = 0; i < 16; i++) {
            lo[i] = __fsub_rn(__fmul_rn((float) ((q[i] & 0x0F) | (((qh[i] >> (2 * g)) & 1) << 4)), ds1), dm1);
            hi[i] = __fsub_rn(__fmul_rn((float) ((q[i] >> 4) | (((qh[i] >> (2 * g + 1)) & 1) << 4)), ds2), dm2);
        }
        int at = c - (col % 256) + 64 * g + 16 * (k % 2); // tile column of the low nibbles' first weight
        float s[GEMV_MAX_N];
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) s[t] = 0.0f;
        dot8(lo, xs, ld, at, n, s);
        dot8(lo + 8, xs, ld, at + 8, n, s);
        dot8(hi, xs, ld, at + 32, n, s);
        dot8(hi + 8, xs, ld, at + 40, n, s);
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) acc[t] += s[t];
    }
};
using GemvQ4_K = GemvQ45_K<144, 16>;
using GemvQ5_K = GemvQ45_K<176, 48>;

// Q6_K (repacked): load k (0..3) of a block takes half h = k/2, positions l = 16(k%2) .. +15 of it: ql[64h + l ..],
// ql[64h + 32 + l ..] and qh[32h + l ..] (three 16-byte loads) make weights 128h + 32u + l for u = 0..3, sixteen per
// u, each sixteen under one scale (the block's 16 scales are a fourth load).
struct GemvQ6_K {
    static constexpr int VEC = 64;
    __device__ static void dot(const void* w, const __half* scales, int row, int cols, int col, const float* xs, int ld, int c, int n, float* acc) {
        long b = (long) row * (cols / 256) + col / 256;
        const uint8_t* blk = reinterpret_cast<const uint8_t*>(w) + b * 208;
        int k = (col % 256) / 64, h = k / 2, l0 = 16 * (k % 2);
        int4 rawA = __ldg(reinterpret_cast<const int4*>(blk + 64 * h + l0));
        int4 rawB = __ldg(reinterpret_cast<const int4*>(blk + 64 * h + 32 + l0));
        int4 rawH = __ldg(reinterpret_cast<const int4*>(blk + 128 + 32 * h + l0));
        int4 rawS = __ldg(reinterpret_cast<const int4*>(blk + 192));
        const uint8_t* qa = reinterpret_cast<const uint8_t*>(&rawA);
        const uint8_t* qb = reinterpret_cast<const uint8_t*>(&rawB);
        const uint8_t* qh = reinterpret_cast<const uint8_t*>(&rawH);
        float d = __half2float(scales[b]);
        int s0 = 8 * h + l0 / 16; // the scale of u = 0; u's is 2u further (int8: sign-extended from the byte)
        float ds0 = d * (float) (int8_t) byte_of(rawS, s0), ds1 = d * (float) (int8_t) byte_of(rawS, s0 + 2);
        float ds2 = d * (float) (int8_t) byte_of(rawS, s0 + 4), ds3 = d * (float) (int8_t) byte_of(rawS, s0 + 6);
        float w0[16], w1[16], w2[16], w3[16];
#pragma unroll
        for (int i = 0; i < 16; i++) {
            int hb = qh[i];
            w0[i] = ds0 * (float) (((qa[i] & 0x0F) | ((hb & 3) << 4)) - 32);
            w1[i] = ds1 * (float) (((qb[i] & 0x0F) | (((hb >> 2) & 3) << 4)) - 32);
            w2[i] = ds2 * (float) (((qa[i] >> 4) | (((hb >> 4) & 3) << 4)) - 32);
            w3[i] = ds3 * (float) (((qb[i] >> 4) | (((hb >> 6) & 3) << 4)) - 32);
        }
        int at = c - (col % 256) + 128 * h + l0; // tile column of weight 128h + l0 of this block
        float s[GEMV_MAX_N];
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) s[t] = 0.0f;
        dot8(w0, xs, ld, at, n, s);
        dot8(w0 + 8, xs, ld, at + 8, n, s);
        dot8(w1, xs, ld, at + 32, n, s);
        dot8(w1 + 8, xs, ld, at + 40, n, s);
        dot8(w2, xs, ld, at + 64, n, s);
        dot8(w2 + 8, xs, ld, at + 72, n, s);
        dot8(w3, xs, ld, at + 96, n, s);
        dot8(w3 + 8, xs, ld, at + 104, n, s);
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) acc[t] += s[t];
    }
};

template <typename F>
__device__ void gemv(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    extern __shared__ float4 gemv_smem[]; // float4: 16-byte aligned for the vector reads of xs4
    __shared__ float shares[GEMV_WARPS][GEMV_MAX_N];
    float* xs = reinterpret_cast<float*>(gemv_smem);
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, part = warp % split;
    int row = blockIdx.x * (GEMV_WARPS / split) + warp / split;
    bool active = row < rows; // idle warps still take part in staging x and in the barriers
    int tile = min((GEMV_SMEM_FLOATS / n) & ~1023, (cols + 1023) & ~1023);
    float acc[GEMV_MAX_N];
#pragma unroll
    for (int t = 0; t < GEMV_MAX_N; t++) acc[t] = 0.0f;
    for (int c0 = 0; c0 < cols; c0 += tile) {
        int width = min(tile, cols - c0); // a multiple of 8, as cols is
        __syncthreads(); // every warp is done with the previous tile
        for (int i = threadIdx.x; i < n * width / 4; i += blockDim.x) {
            int t = i / (width / 4), c = 4 * (i % (width / 4));
            *reinterpret_cast<float4*>(xs + t * tile + c) = *reinterpret_cast<const float4*>(x + (long) t * cols + c0 + c);
        }
        __syncthreads();
        if (active) {
#pragma unroll 4
            for (int c = (part * WARP + lane) * F::VEC; c < width; c += split * WARP * F::VEC) F::dot(w, scales, row, cols, c0 + c, xs, tile, c, n, acc);
        }
    }
#pragma unroll
    for (int t = 0; t < GEMV_MAX_N; t++) {
        if (t >= n) break;
        acc[t] = warp_sum(acc[t]); // every lane of a warp runs this: `active` is the same for the whole warp
    }
    if (split == 1) {
        if (active && lane < n) {
            float v = 0.0f;
#pragma unroll
            for (int t = 0; t < GEMV_MAX_N; t++) if (t == lane) v = acc[t]; // lane t writes row t (registers are not indexable by lane)
            y[(long) lane * rows + row] = v;
        }
        return;
    }
    if (lane == 0) {
#pragma unroll
        for (int t = 0; t < GEMV_MAX_N; t++) if (t < n) shares[warp][t] = acc[t];
    }
    __syncthreads();
    if (active && part == 0 && lane < n) { // the row's warps' shares, added in order
        float v = 0.0f;
        for (int p = 0; p < split; p++) v += shares[warp + p][lane];
        y[(long) lane * rows + row] = v;
    }
}

// One entry point per weight format, same parameters (scales is unused, and may be 0, for f16 / bf16 / Q4_K / Q5_K).
extern "C" __global__ void gemv_f16(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvF16>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_bf16(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvBF16>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_q8_0(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvQ8_0>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_q4_0(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvQ4_0>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_q5_0(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvQ5_0>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_q4_1(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvQx_1<false>>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_q5_1(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvQx_1<true>>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_q4_k(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvQ4_K>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_q5_k(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvQ5_K>(y, w, scales, x, rows, cols, n, split);
}

extern "C" __global__ void gemv_q6_k(float* y, const void* w, const __half* scales, const float* x, int rows, int cols, int n, int split) {
    gemv<GemvQ6_K>(y, w, scales, x, rows, cols, n, split);
}

// ---------------------------------------------------------------- embedding

// out[t][d] = table[tokens[t]][d]; dtype 0 = f32, 1 = f16, 2 = bf16 (one grid row per token).
extern "C" __global__ void embed_gather(float* out, const void* table, int dtype, const int* tokens, int dim) {
    int t = blockIdx.x;
    long row = (long) tokens[t] * dim;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        float v;
        if (dtype == 0) v = reinterpret_cast<const float*>(table)[row + d];
        else if (dtype == 1) v = __half2float(reinterpret_cast<const __half*>(table)[row + d]);
        else v = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(table)[row + d]);
        out[(long) t * dim + d] = v;
    }
}

// out[t][d] = row tokens[t] of a quantized table in its device form (format: ggml's type number, 8 = Q8_0, 2 = Q4_0,
// 6 = Q5_0, 3 = Q4_1, 7 = Q5_1, 12 = Q4_K, 13 = Q5_K, 14 = Q6_K), dequantized as the CPU does (Q8_0 / Q4_0: float scale
// times the quant; the others as their *_weight functions): tied embeddings of quantized models stay quantized too.
// d is unused for Q4_K and Q5_K.
extern "C" __global__ void embed_gather_q(float* out, const void* qs, const __half* d, int format, const int* tokens, int dim) {
    int t = blockIdx.x;
    long row = (long) tokens[t] * dim;
    for (int c = threadIdx.x; c < dim; c += blockDim.x) {
        long i = row + c;
        float v;
        if (format == 8) v = __half2float(d[i / 32]) * (float) reinterpret_cast<const int8_t*>(qs)[i];
        else if (format == 2) {
            uint8_t q = reinterpret_cast<const uint8_t*>(qs)[(i / 32) * 16 + (i % 32) % 16];
            v = __half2float(d[i / 32]) * (float) (((i % 32) < 16 ? (q & 0x0F) : (q >> 4)) - 8);
        } else if (format == 6) v = q5_0_weight(reinterpret_cast<const uint8_t*>(qs), d, i);
        else if (format == 3) v = q4_1_weight(reinterpret_cast<const uint8_t*>(qs), d, i);
        else if (format == 7) v = q5_1_weight(reinterpret_cast<const uint8_t*>(qs), d, i);
        else if (format == 12) v = q4_k_weight(reinterpret_cast<const uint8_t*>(qs), i);
        else if (format == 13) v = q5_k_weight(reinterpret_cast<const uint8_t*>(qs), i);
        else v = q6_k_weight(reinterpret_cast<const uint8_t*>(qs), d, i);
        out[(long) t * dim + c] = v;
    }
}

// ---------------------------------------------------------------- element-wise

// y += x
extern "C" __global__ void add_inplace(float* y, const float* x, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) y[i] += x[i];
}

// y[r][c] += scale * v[c] for every row: biases (scale 1) and steering vectors (hook_resid_post += s * direction).
extern "C" __global__ void add_row_vector(float* y, const float* v, float scale, int rows, int width) {
    long n = (long) rows * width;
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) y[i] = __fadd_rn(y[i], __fmul_rn(scale, v[i % width]));  // no fma: the same rounding as the CPU's y += s * v
}

// gate = silu(gate) * up, silu(g) = g / (1 + e^-g)   (SwiGLU)
extern "C" __global__ void silu_mul(float* gate, const float* up, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))), the tanh approximation gemma's GeGLU uses.
#define GELU_C 0.7978845608028654f   // sqrt(2/pi)
__device__ __forceinline__ float gelu_tanh(float g) {
    return 0.5f * g * (1.0f + tanhf(GELU_C * (g + 0.044715f * g * g * g)));
}

// gate = gelu_tanh(gate) * up   (GeGLU)
extern "C" __global__ void gelu_mul(float* gate, const float* up, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) gate[i] = gelu_tanh(gate[i]) * up[i];
}

// y *= a   (gemma's embeddings times sqrt(dim))
extern "C" __global__ void scale_inplace(float* y, float a, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) y[i] *= a;
}

// y = cap * tanh(y / cap)   (gemma2's final-logit soft-capping; cap > 0)
extern "C" __global__ void softcap_inplace(float* y, float cap, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) y[i] = cap * tanhf(y[i] / cap);
}

// Backward of y = cap * tanh(x / cap) given the capped output y: dy *= 1 - (y / cap)^2.
extern "C" __global__ void softcap_backward(float* dy, const float* y, float cap, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        float r = y[i] / cap;
        dy[i] *= 1.0f - r * r;
    }
}

// dst[r] = src[index[r]] for rows of `width` floats (picks the rows that want logits).
extern "C" __global__ void gather_rows(float* dst, const float* src, const int* index, int width) {
    int r = blockIdx.x;
    const float* s = src + (long) index[r] * width;
    for (int c = threadIdx.x; c < width; c += blockDim.x) dst[(long) r * width + c] = s[c];
}

// ---------------------------------------------------------------- RMSNorm

// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w   (one block per row; out may alias x). Also the per-head q/k norm.
extern "C" __global__ void rmsnorm(float* out, const float* x, const float* w, int width, float eps) {
    const float* xr = x + (long) blockIdx.x * width;
    float* outr = out + (long) blockIdx.x * width;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss);
    float scale = rsqrtf(ss / width + eps);
    for (int i = threadIdx.x; i < width; i += blockDim.x) outr[i] = xr[i] * scale * w[i];
}

// Backward of y = rmsnorm(x) * w for one row per block, with r = rsqrt(mean(x^2) + eps):
//   dx += r * (dy*w) - x * r^3 / n * sum(dy*w*x)     and, when dw != 0, dw += dy * x * r  (atomically over rows)
// Both accumulate: x usually also feeds a residual branch whose gradient is already in dx (zero dx first otherwise).
extern "C" __global__ void rmsnorm_backward(float* dx, float* dw, const float* dy, const float* x, const float* w, int width, float eps) {
    long base = (long) blockIdx.x * width;
    float ss = 0.0f, dot = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float xi = x[base + i];
        ss += xi * xi;
        dot += dy[base + i] * w[i] * xi;
    }
    ss = block_sum(ss);
    dot = block_sum(dot);
    float r = rsqrtf(ss / width + eps);
    float c = r * r * r / width * dot;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float xi = x[base + i], g = dy[base + i];
        dx[base + i] += r * g * w[i] - xi * c;
        if (dw) atomicAdd(&dw[i], g * xi * r);
    }
}

// Backward of gate' = silu(gate) * up: dgate = dout * up * silu'(gate), dup = dout * silu(gate).
extern "C" __global__ void silu_mul_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        float g = gate[i], s = 1.0f / (1.0f + expf(-g));
        dgate[i] = dout[i] * up[i] * s * (1.0f + g * (1.0f - s));
        dup[i] = dout[i] * g * s;
    }
}

// Backward of gate' = gelu_tanh(gate) * up: dgate = dout * up * gelu'(gate), dup = dout * gelu(gate), where with
// u = sqrt(2/pi) (g + 0.044715 g^3), t = tanh(u): gelu'(g) = 0.5 (1 + t) + 0.5 g (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 g^2).
extern "C" __global__ void gelu_mul_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        float g = gate[i], t = tanhf(GELU_C * (g + 0.044715f * g * g * g));
        float d = 0.5f * (1.0f + t) + 0.5f * g * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * 0.044715f * g * g);
        dgate[i] = dout[i] * up[i] * d;
        dup[i] = dout[i] * 0.5f * g * (1.0f + t);
    }
}

// ---------------------------------------------------------------- RoPE

// Rotates each head of x ([rows][heads*headDim]) by position positions[row]. freqs[i] = theta_i (rotDims/2 of them,
// frequency scale and factors applied); angles are computed in double as the CPU's table is. neox != 0 rotates
// (x[i], x[i+rotDims/2]), else adjacent pairs (x[2i], x[2i+1]). One block per row; threads over heads * rotDims/2.
extern "C" __global__ void rope(float* x, const int* positions, const double* freqs, int heads, int headDim, int rotDims, int neox) {
    int row = blockIdx.x, half = rotDims / 2;
    float* xr = x + (long) row * heads * headDim;
    double p = (double) positions[row];
    for (int k = threadIdx.x; k < heads * half; k += blockDim.x) {
        int h = k / half, i = k % half;
        double ang = p * freqs[i];
        float c = (float) cos(ang), s = (float) sin(ang);
        float* hx = xr + h * headDim;
        int ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
        float a = hx[ia], b = hx[ib];
        hx[ia] = a * c - b * s;
        hx[ib] = a * s + b * c;
    }
}

// ---------------------------------------------------------------- KV cache and attention

// Each row's sequence has its own device cache: layer-major [layers][maxPos][kvDim] floats for keys and for values.
// layerBaseK[row] / layerBaseV[row] already point at this layer; the row's key and value go at its position.
extern "C" __global__ void kv_store(const unsigned long long* layerBaseK, const unsigned long long* layerBaseV, const int* positions,
                                    const float* k, const float* v, int kvDim) {
    int row = blockIdx.x;
    float* kc = reinterpret_cast<float*>(layerBaseK[row]) + (long) positions[row] * kvDim;
    float* vc = reinterpret_cast<float*>(layerBaseV[row]) + (long) positions[row] * kvDim;
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) {
        kc[i] = k[(long) row * kvDim + i];
        vc[i] = v[(long) row * kvDim + i];
    }
}

#define ATT_WARPS 4
#define ATT_MAX_PER_LANE 8   // head_dim <= 256

// Causal grouped-query attention. Block (head h, row t), ATT_WARPS warps: warp w takes positions j = first + w,
// first + w + W, ... <= pos = positions[t], with an online softmax (running max m, sum l, accumulator acc over the
// head's dims spread across lanes); the warps' partial results are merged at the end.
// out[t][h] = sum_j softmax(s)_j v_j with s_j = q.k_j * scale, soft-capped to cap * tanh(s_j / cap) when cap > 0
// (gemma2); first = max(0, pos - window + 1) for a sliding window (window > 0: gemma2, Mistral), else 0.
extern "C" __global__ void attention(float* out, const float* q, const unsigned long long* layerBaseK, const unsigned long long* layerBaseV,
                                     const int* positions, int heads, int kvHeads, int headDim, float scale, float cap, int window) {
    int h = blockIdx.x, t = blockIdx.y;
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    int group = heads / kvHeads, kvDim = kvHeads * headDim;
    const float* qh = q + ((long) t * heads + h) * headDim;
    const float* kc = reinterpret_cast<const float*>(layerBaseK[t]) + (h / group) * headDim;
    const float* vc = reinterpret_cast<const float*>(layerBaseV[t]) + (h / group) * headDim;
    int pos = positions[t];
    int per = (headDim + WARP - 1) / WARP;

    float qv[ATT_MAX_PER_LANE], acc[ATT_MAX_PER_LANE];
    for (int e = 0; e < per; e++) {
        int d = lane + e * WARP;
        qv[e] = d < headDim ? qh[d] : 0.0f;
        acc[e] = 0.0f;
    }
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    float m = -INFINITY, l = 0.0f;
    for (int j = first + warp; j <= pos; j += ATT_WARPS) {
        const float* kj = kc + (long) j * kvDim;
        const float* vj = vc + (long) j * kvDim;
        float s = 0.0f;
        for (int e = 0; e < per; e++) {
            int d = lane + e * WARP;
            if (d < headDim) s += qv[e] * kj[d];
        }
        s = warp_sum(s) * scale;
        if (cap > 0.0f) s = cap * tanhf(s / cap);
        float mNew = fmaxf(m, s);
        float corr = expf(m - mNew), p = expf(s - mNew);
        l = l * corr + p;
        for (int e = 0; e < per; e++) {
            int d = lane + e * WARP;
            acc[e] = acc[e] * corr + (d < headDim ? p * vj[d] : 0.0f);
        }
        m = mNew;
    }

    __shared__ float sm[ATT_WARPS], sl[ATT_WARPS];
    __shared__ float sacc[ATT_WARPS][ATT_MAX_PER_LANE * WARP];
    if (lane == 0) { sm[warp] = m; sl[warp] = l; }
    for (int e = 0; e < per; e++) sacc[warp][lane + e * WARP] = acc[e];
    __syncthreads();
    if (warp == 0) {
        float M = -INFINITY;
        for (int w = 0; w < ATT_WARPS; w++) M = fmaxf(M, sm[w]);
        float L = 0.0f;
        for (int w = 0; w < ATT_WARPS; w++) if (sm[w] != -INFINITY) L += sl[w] * expf(sm[w] - M);
        float* o = out + ((long) t * heads + h) * headDim;
        for (int e = 0; e < per; e++) {
            int d = lane + e * WARP;
            if (d >= headDim) continue;
            float a = 0.0f;
            for (int w = 0; w < ATT_WARPS; w++) if (sm[w] != -INFINITY) a += sacc[w][d] * expf(sm[w] - M);
            o[d] = a / L;
        }
    }
}

// ---------------------------------------------------------------- tiled attention for prefill (flash-attention style)

#define ATT_TILE_ROWS 16                                  // query rows per block
#define ATT_ROWS_PER_WARP (ATT_TILE_ROWS / ATT_WARPS)     // 4: rows warp, warp + 4, warp + 8, warp + 12 of the tile
#define ATT_TILE_KEYS 32                                  // keys per shared tile (one per lane) for head_dim <= 128; 16 above
#define ATT_TILE_FLOATS (ATT_TILE_KEYS * (128 + 1) + ATT_TILE_KEYS * 128)   // K tile (odd row stride) + V tile: 32,896 bytes
static_assert(ATT_TILE_ROWS % ATT_WARPS == 0, "every warp takes the same number of rows");
static_assert(ATT_TILE_KEYS / 2 * (256 + 1) + ATT_TILE_KEYS / 2 * 256 <= ATT_TILE_FLOATS, "the head_dim 256 tile fits");

// `attention` for prefill: the same parameters and math, plus `rows` (the grid no longer says it). In `attention` every
// (head, row) block reads each key and value of its row's range from global memory, so a long prompt's rows read the
// same keys over and over. Here block (head h, tile y) takes rows t0 = y * ATT_TILE_ROWS .. t0 + 15 (fewer in the tail
// tile), which must all belong to ONE sequence (the caller's guarantee: row t0's layer bases serve every row), and
// walks the union of its rows' ranges [min first, max pos] in tiles of `keys` positions, each loaded once into shared
// memory by the whole block (warp w copies key rows w, w + 4, ..., lanes over the dims: coalesced) and then read by
// all 16 rows. Keys are stored with an odd row stride (headDim | 1), so the 32 lanes reading one dim of 32 different
// keys hit 32 different banks; values keep stride headDim (lanes read consecutive dims of one value).
// Warp w owns rows w + 4i (i < 4) and keeps, per row, its query spread over the lanes (qv), the online softmax's
// running max m and sum l, and its accumulator over the head's dims (acc, lane-spread as in `attention`). Per tile and
// row, lane k scores key j0 + k (the full dot product, the query's dims broadcast from their lanes by shuffles), masked
// to -inf outside [first, pos] of the row; the tile's max and sum are warp reductions, and the accumulator takes each
// of the row's keys' weight by a shuffle from the lane that scored it (values outside [first, pos] are never read).
// Same scale, cap (cap * tanh(s / cap) when cap > 0), window (first = max(0, pos - window + 1)) and GQA mapping
// (h / (heads / kvHeads)) as `attention`.
// Barriers: lo, hi and the tile length are computed alike by every thread from positions[] (read-only), so every
// thread runs the key loop the same number of times and meets both of its barriers; nothing returns early. The first
// barrier keeps the next tile's stores out until every warp has read the previous tile, the second publishes the tile.
// Between them no thread reads shared memory, after the second none writes it. Every branch around a shuffle or a warp
// reduction depends on the row (one per warp) or the tile only, so whole warps take it. Launch: grid (heads,
// ceil(rows / ATT_TILE_ROWS)), block ATT_WARPS * 32 threads exactly (the row mapping depends on it); head_dim <= 256.
extern "C" __global__ void attention_tiled(float* out, const float* q, const unsigned long long* layerBaseK, const unsigned long long* layerBaseV,
                                           const int* positions, int heads, int kvHeads, int headDim, float scale, float cap, int window,
                                           int rows) {
    __shared__ float tile[ATT_TILE_FLOATS];
    int h = blockIdx.x, t0 = blockIdx.y * ATT_TILE_ROWS;
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    int group = heads / kvHeads, kvDim = kvHeads * headDim;
    int tileRows = min(ATT_TILE_ROWS, rows - t0);   // >= 1: the grid has ceil(rows / ATT_TILE_ROWS) tiles
    const float* kc = reinterpret_cast<const float*>(layerBaseK[t0]) + (h / group) * headDim;
    const float* vc = reinterpret_cast<const float*>(layerBaseV[t0]) + (h / group) * headDim;
    int per = (headDim + WARP - 1) / WARP;
    int keys = headDim <= 128 ? ATT_TILE_KEYS : ATT_TILE_KEYS / 2;
    int ks = headDim | 1;
    float* sk = tile;               // [keys][ks]
    float* sv = tile + keys * ks;   // [keys][headDim]

    // the positions any row of the tile sees (the same in every thread: the loop below holds barriers)
    int lo = window > 0 ? max(0, positions[t0] - window + 1) : 0, hi = positions[t0];
    for (int r = 1; r < tileRows; r++) {
        int p = positions[t0 + r];
        lo = min(lo, window > 0 ? max(0, p - window + 1) : 0);
        hi = max(hi, p);
    }

    // this warp's rows; a row past the end of the tail tile gets pos -1, which every tile skips
    float qv[ATT_ROWS_PER_WARP][ATT_MAX_PER_LANE], acc[ATT_ROWS_PER_WARP][ATT_MAX_PER_LANE];
    float m[ATT_ROWS_PER_WARP], l[ATT_ROWS_PER_WARP];
    int pos[ATT_ROWS_PER_WARP], first[ATT_ROWS_PER_WARP];
#pragma unroll
    for (int i = 0; i < ATT_ROWS_PER_WARP; i++) {
        int r = warp + i * ATT_WARPS;
        pos[i] = r < tileRows ? positions[t0 + r] : -1;
        first[i] = window > 0 ? max(0, pos[i] - window + 1) : 0;
        m[i] = -INFINITY;
        l[i] = 0.0f;
#pragma unroll
        for (int e = 0; e < ATT_MAX_PER_LANE; e++) {
            int d = lane + e * WARP;
            qv[i][e] = r < tileRows && d < headDim ? q[((long) (t0 + r) * heads + h) * headDim + d] : 0.0f;
            acc[i][e] = 0.0f;
        }
    }

    for (int j0 = lo; j0 <= hi; j0 += keys) {
        int n = min(keys, hi - j0 + 1);
        __syncthreads();   // every warp is done with the previous tile
        for (int jj = warp; jj < n; jj += ATT_WARPS) {
            const float* kj = kc + (long) (j0 + jj) * kvDim;
            const float* vj = vc + (long) (j0 + jj) * kvDim;
            for (int d = lane; d < headDim; d += WARP) {
                sk[jj * ks + d] = kj[d];
                sv[jj * headDim + d] = vj[d];
            }
        }
        __syncthreads();   // the tile is in shared memory
#pragma unroll
        for (int i = 0; i < ATT_ROWS_PER_WARP; i++) {
            // warp-uniform: a row none of whose keys lie in this tile (or no row at all) skips it; otherwise at least
            // one lane holds a valid key, so the tile's max below is finite
            if (j0 > pos[i] || j0 + n <= first[i]) continue;
            const float* kr = sk + min(lane, n - 1) * ks;   // lanes past the tile score its last key, masked below
            float s = 0.0f;
#pragma unroll
            for (int e = 0; e < ATT_MAX_PER_LANE; e++) {
                if (e >= per) break;
                int dims = min(WARP, headDim - e * WARP);   // uniform: every lane runs every shuffle
                for (int src = 0; src < dims; src++) s += __shfl_sync(0xffffffffu, qv[i][e], src) * kr[e * WARP + src];
            }
            s *= scale;
            if (cap > 0.0f) s = cap * tanhf(s / cap);
            int j = j0 + lane;
            bool valid = lane < n && j >= first[i] && j <= pos[i];
            if (!valid) s = -INFINITY;
            float mNew = fmaxf(m[i], warp_max(s));
            float corr = expf(m[i] - mNew), p = valid ? expf(s - mNew) : 0.0f;   // corr = 0 on the row's first tile
            l[i] = l[i] * corr + warp_sum(p);
#pragma unroll
            for (int e = 0; e < ATT_MAX_PER_LANE; e++) acc[i][e] *= corr;
            // only the row's own keys: a masked key's weight is 0, but its value need not be finite (the cache is not
            // zeroed, and positions between the rows' ranges may never have been written)
            int jEnd = min(n, pos[i] - j0 + 1);
            for (int jj = max(0, first[i] - j0); jj < jEnd; jj++) {
                float pj = __shfl_sync(0xffffffffu, p, jj);
                const float* vr = sv + jj * headDim;
#pragma unroll
                for (int e = 0; e < ATT_MAX_PER_LANE; e++) {
                    int d = lane + e * WARP;
                    if (d < headDim) acc[i][e] += pj * vr[d];
                }
            }
            m[i] = mNew;
        }
    }

#pragma unroll
    for (int i = 0; i < ATT_ROWS_PER_WARP; i++) {
        int r = warp + i * ATT_WARPS;
        if (r >= tileRows) continue;
        float* o = out + ((long) (t0 + r) * heads + h) * headDim;
#pragma unroll
        for (int e = 0; e < ATT_MAX_PER_LANE; e++) {
            int d = lane + e * WARP;
            if (d < headDim) o[d] = acc[i][e] / l[i];
        }
    }
}

// ---------------------------------------------------------------- split-K attention for decode (flash-decoding)

// A decoded token has one row per sequence, so `attention` above runs only heads x rows blocks and each walks the
// whole context: at a depth of 4096 a 14-head model keeps 14 of 132 multiprocessors busy. Here the context is cut into
// `splits` chunks of `chunk` positions; block (head h, row t, split s) runs the same online softmax over its chunk and
// writes its unnormalised accumulator with its running max m and sum l: partial[((t*heads+h)*splits+s)*headDim + d]
// and ml[2*((t*heads+h)*splits+s) + {0,1}]. Scores, cap and window as in `attention`: the chunk covers positions
// [max(s*chunk, first), min(pos + 1, (s+1)*chunk)); a chunk past the row's position or wholly before the window's
// first position writes m = -inf, l = 0 (and a zero accumulator).
extern "C" __global__ void attention_partial(float* partial, float* ml, const float* q, const unsigned long long* layerBaseK,
                                             const unsigned long long* layerBaseV, const int* positions, int heads, int kvHeads,
                                             int headDim, float scale, int chunk, float cap, int window) {
    int h = blockIdx.x, t = blockIdx.y, sp = blockIdx.z, splits = gridDim.z;
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    int group = heads / kvHeads, kvDim = kvHeads * headDim;
    const float* qh = q + ((long) t * heads + h) * headDim;
    const float* kc = reinterpret_cast<const float*>(layerBaseK[t]) + (h / group) * headDim;
    const float* vc = reinterpret_cast<const float*>(layerBaseV[t]) + (h / group) * headDim;
    int pos = positions[t];
    int first = window > 0 ? max(0, pos - window + 1) : 0;
    int begin = max(sp * chunk, first), end = min(pos + 1, sp * chunk + chunk);
    int per = (headDim + WARP - 1) / WARP;

    float qv[ATT_MAX_PER_LANE], acc[ATT_MAX_PER_LANE];
    for (int e = 0; e < per; e++) {
        int d = lane + e * WARP;
        qv[e] = d < headDim ? qh[d] : 0.0f;
        acc[e] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = begin + warp; j < end; j += ATT_WARPS) {
        const float* kj = kc + (long) j * kvDim;
        const float* vj = vc + (long) j * kvDim;
        float s = 0.0f;
        for (int e = 0; e < per; e++) {
            int d = lane + e * WARP;
            if (d < headDim) s += qv[e] * kj[d];
        }
        s = warp_sum(s) * scale;
        if (cap > 0.0f) s = cap * tanhf(s / cap);
        float mNew = fmaxf(m, s);
        float corr = expf(m - mNew), p = expf(s - mNew);
        l = l * corr + p;
        for (int e = 0; e < per; e++) {
            int d = lane + e * WARP;
            acc[e] = acc[e] * corr + (d < headDim ? p * vj[d] : 0.0f);
        }
        m = mNew;
    }

    __shared__ float sm[ATT_WARPS], sl[ATT_WARPS];
    __shared__ float sacc[ATT_WARPS][ATT_MAX_PER_LANE * WARP];
    if (lane == 0) { sm[warp] = m; sl[warp] = l; }
    for (int e = 0; e < per; e++) sacc[warp][lane + e * WARP] = acc[e];
    __syncthreads();
    if (warp == 0) {
        long slot = ((long) t * heads + h) * splits + sp;
        float M = -INFINITY;
        for (int w = 0; w < ATT_WARPS; w++) M = fmaxf(M, sm[w]);
        float L = 0.0f;
        for (int w = 0; w < ATT_WARPS; w++) if (sm[w] != -INFINITY) L += sl[w] * expf(sm[w] - M);
        float* o = partial + slot * headDim;
        for (int e = 0; e < per; e++) {
            int d = lane + e * WARP;
            if (d >= headDim) continue;
            float a = 0.0f;
            for (int w = 0; w < ATT_WARPS; w++) if (sm[w] != -INFINITY) a += sacc[w][d] * expf(sm[w] - M);
            o[d] = a;
        }
        if (lane == 0) { ml[2 * slot] = M; ml[2 * slot + 1] = L; }
    }
}

// Merges the splits of attention_partial by log-sum-exp: out[t][h] = sum_s a_s e^(m_s - M) / sum_s l_s e^(m_s - M),
// M = max_s m_s. Block (head h, row t); threads over the head's dims.
extern "C" __global__ void attention_merge(float* out, const float* partial, const float* ml, int heads, int headDim, int splits) {
    int h = blockIdx.x, t = blockIdx.y;
    long base = ((long) t * heads + h) * splits;
    float M = -INFINITY;
    for (int s = 0; s < splits; s++) M = fmaxf(M, ml[2 * (base + s)]);
    float L = 0.0f;
    for (int s = 0; s < splits; s++) { float ms = ml[2 * (base + s)]; if (ms != -INFINITY) L += ml[2 * (base + s) + 1] * expf(ms - M); }
    float* o = out + ((long) t * heads + h) * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float a = 0.0f;
        for (int s = 0; s < splits; s++) { float ms = ml[2 * (base + s)]; if (ms != -INFINITY) a += partial[(base + s) * headDim + d] * expf(ms - M); }
        o[d] = a / L;
    }
}

// ---------------------------------------------------------------- fused decode kernels
// A decoded token runs about 15 small kernels per block, each too short to fill the GPU, so their count sets the pace.
// These fuse what sits between two matrix products.

// Stores y as float32 (type 0), float16 (1) or bfloat16 (2): the input of the next GEMM in the weight's type.
__device__ __forceinline__ void store_as(void* out, long i, float y, int type) {
    if (type == 0) reinterpret_cast<float*>(out)[i] = y;
    else if (type == 2) reinterpret_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(y);
    else reinterpret_cast<__half*>(out)[i] = __float2half_rn(y);
}

// x += branch (when branch is given: the residual add), then the steering adds of the point after it (when given:
// steerScale * steer, the same vector for every row, then rowScales[row] * rowVecs[row], each row its own, a null entry
// none), each a multiply then an add as add_row_vector / add_row_table round them; then out = rmsnorm(x) * w stored as
// `type` (see store_as). One block per row. Replaces add_inplace + add_row_vector / add_row_table + rmsnorm + f32_to_f16.
extern "C" __global__ void add_rmsnorm(float* x, const float* branch, void* out, const float* w, int width, float eps, int type,
                                       const float* steer, float steerScale, const unsigned long long* rowVecs, const float* rowScales) {
    float* xr = x + (long) blockIdx.x * width;
    const float* br = branch ? branch + (long) blockIdx.x * width : nullptr;
    const float* rv = rowVecs ? reinterpret_cast<const float*>(rowVecs[blockIdx.x]) : nullptr;
    float rs = rv ? rowScales[blockIdx.x] : 0.0f;
    bool write = br || steer || rv;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float v = xr[i];
        if (br) v = v + br[i];
        if (steer) v = __fadd_rn(v, __fmul_rn(steerScale, steer[i]));
        if (rv) v = __fadd_rn(v, __fmul_rn(rs, rv[i]));
        if (write) xr[i] = v;
        ss += v * v;
    }
    ss = block_sum(ss);
    float scale = rsqrtf(ss / width + eps);
    for (int i = threadIdx.x; i < width; i += blockDim.x) store_as(out, (long) blockIdx.x * width + i, xr[i] * scale * w[i], type);
}

// One block per row of the fused q|k|v product (rows `stride` floats apart: q, then k, then v). Adds the biases (when
// given), rotates q and k by the row's position as `rope` does, writes q to qOut [rows][heads*headDim] and k, v into
// the row's cache at its position. Replaces three bias adds, two ropes and kv_store.
extern "C" __global__ void qkv_rope_store(const float* qkv, int stride, float* qOut, const float* bq, const float* bk, const float* bv,
                                          const int* positions, const double* freqs, const unsigned long long* layerBaseK,
                                          const unsigned long long* layerBaseV, int heads, int kvHeads, int headDim, int rotDims, int neox) {
    int row = blockIdx.x, qDim = heads * headDim, kvDim = kvHeads * headDim, half = rotDims / 2, pairs = headDim / 2;
    const float* src = qkv + (long) row * stride;
    float* qo = qOut + (long) row * qDim;
    float* kc = reinterpret_cast<float*>(layerBaseK[row]) + (long) positions[row] * kvDim;
    float* vc = reinterpret_cast<float*>(layerBaseV[row]) + (long) positions[row] * kvDim;
    double p = (double) positions[row];
    for (int k = threadIdx.x; k < (heads + kvHeads) * pairs; k += blockDim.x) {
        int h = k / pairs, i = k % pairs;
        bool isQ = h < heads;
        int hh = isQ ? h : h - heads;
        const float* s = src + (isQ ? 0 : qDim) + hh * headDim;
        const float* b = isQ ? bq : bk;
        if (b) b += hh * headDim;
        float* d = (isQ ? qo : kc) + hh * headDim;
        if (i < half) {
            int ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
            float a = b ? s[ia] + b[ia] : s[ia], c2 = b ? s[ib] + b[ib] : s[ib];
            double ang = p * freqs[i];
            float c = (float) cos(ang), sn = (float) sin(ang);
            d[ia] = a * c - c2 * sn;
            d[ib] = a * sn + c2 * c;
        } else { // dimensions past rotDims pass through, two per pair index
            int j = rotDims + 2 * (i - half);
            d[j] = b ? s[j] + b[j] : s[j];
            d[j + 1] = b ? s[j + 1] + b[j + 1] : s[j + 1];
        }
    }
    for (int i = threadIdx.x; i < kvDim; i += blockDim.x) vc[i] = bv ? src[qDim + kvDim + i] + bv[i] : src[qDim + kvDim + i];
}

// Rows of the fused gate|up product (2*ffn floats each, gate then up): out[r][i] = silu(gate) * up stored as `type`.
// Replaces silu_mul + f32_to_f16.
extern "C" __global__ void silu_mul_store(void* out, const float* gu, int ffn, long n, int type) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        long r = i / ffn, c = i % ffn;
        float g = gu[r * 2 * ffn + c], u = gu[r * 2 * ffn + ffn + c];
        store_as(out, i, g / (1.0f + expf(-g)) * u, type);
    }
}

// The GeGLU twin of silu_mul_store: out[r][i] = gelu_tanh(gate) * up stored as `type`. Replaces gelu_mul + f32_to_f16.
extern "C" __global__ void gelu_mul_store(void* out, const float* gu, int ffn, long n, int type) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        long r = i / ffn, c = i % ffn;
        store_as(out, i, gelu_tanh(gu[r * 2 * ffn + c]) * gu[r * 2 * ffn + ffn + c], type);
    }
}

// ---------------------------------------------------------------- per-row steering in a batch

// y[r][c] += scales[r] * vecs[r][c] for rows whose vecs[r] is not 0: every request of a batch its own vector and scale
// in one launch (one launch per add when a request has several at this point). Rounded as add_row_vector.
extern "C" __global__ void add_row_table(float* y, const unsigned long long* vecs, const float* scales, int rows, int width) {
    long n = (long) rows * width;
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        long r = i / width;
        const float* v = reinterpret_cast<const float*>(vecs[r]);
        if (v) y[i] = __fadd_rn(y[i], __fmul_rn(scales[r], v[i % width]));
    }
}

// ---------------------------------------------------------------- greedy decoding on the device
// out[r] = the index of the largest of logits[r][0 .. cols): greedy decoding copies this id to the host instead of the
// row (151,936 floats for Qwen). The answer is the host's Sampler.argmax, a scan from index 0 that takes a value only
// when it is strictly larger: among equal values the lowest index wins (-0.0 equals +0.0), a NaN never wins, and a NaN
// at index 0 (the scan's start, which nothing exceeds) gives 0, as does a row of NaNs. One block per row (blockDim.x a
// multiple of 32, at most 1024); no host synchronisation, so decode graphs capture it.

// Whether (v, i) beats (bv, bi): larger, or equal and earlier. False for a NaN v, so a NaN never becomes the best.
__device__ __forceinline__ bool argmax_better(float v, int i, float bv, int bi) {
    return v > bv || (v == bv && i < bi);
}

__device__ __forceinline__ void argmax_warp(float& bv, int& bi) {
    for (int o = WARP / 2; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (argmax_better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
    }
}

extern "C" __global__ void argmax_rows(int* out, const float* logits, int cols) {
    __shared__ float wv[32];
    __shared__ int wi[32];
    const float* row = logits + (long) blockIdx.x * cols;
    const int none = 0x7fffffff;  // "no candidate yet": loses to any real index of an equal value
    float bv = __int_as_float(0xff800000); int bi = none;  // (-inf, none): a -inf entry still takes it
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = row[c];
        if (argmax_better(v, c, bv, bi)) { bv = v; bi = c; }
    }
    argmax_warp(bv, bi);
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    if (lane == 0) { wv[warp] = bv; wi[warp] = bi; }
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + WARP - 1) / WARP;
        bv = lane < warps ? wv[lane] : __int_as_float(0xff800000);
        bi = lane < warps ? wi[lane] : none;
        argmax_warp(bv, bi);
        if (lane == 0) out[blockIdx.x] = (bi == none || isnan(row[0])) ? 0 : bi;
    }
}

// ---------------------------------------------------------------- sampled decoding on the device
// out[r] = the token drawn from softmax(logits[r] / T) when invTemp[r] > 0, as an argmax with Gumbel noise:
// argmax_c (z_c * invTemp[r] + g(keys[r], c)), g = -log(-log u), which picks c with probability exactly softmax(z/T)_c;
// when invTemp[r] <= 0, the plain argmax of argmax_rows (same ties and NaN rules). The noise is a pure function of the
// row's key and the column: u = (m + 0.5) * 2^-23 from the top 23 bits m of SplitMix64(key + (c + 1) * phi), each log
// taken in double and rounded to float, the product and the sum rounded separately (no fma). That is the host's
// GumbelMax.pick to the bit, so a sampled decode step copies one id instead of the row and picks what the host would.
// One block per row (blockDim.x a multiple of 32, at most 1024); no host synchronisation, so decode graphs capture it.

__device__ __forceinline__ unsigned long long splitmix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

__device__ __forceinline__ float gumbel_noise(unsigned long long key, int c) {
    unsigned long long h = splitmix64(key + (unsigned long long) (c + 1) * 0x9E3779B97F4A7C15ULL);
    float u = __fmul_rn(__fadd_rn((float) (h >> 41), 0.5f), 1.1920928955078125e-7f);  // exact: (m + 0.5) * 2^-23
    float a = (float) log((double) u);
    return -(float) log((double) -a);
}

extern "C" __global__ void pick_rows(int* out, const float* logits, int cols, const float* invTemp, const unsigned long long* keys) {
    __shared__ float wv[32];
    __shared__ int wi[32];
    const float* row = logits + (long) blockIdx.x * cols;
    const float it = invTemp[blockIdx.x];
    const unsigned long long key = keys[blockIdx.x];
    const bool draw = it > 0.0f;
    const int none = 0x7fffffff;
    float bv = __int_as_float(0xff800000); int bi = none;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float v = draw ? __fadd_rn(__fmul_rn(row[c], it), gumbel_noise(key, c)) : row[c];
        if (argmax_better(v, c, bv, bi)) { bv = v; bi = c; }
    }
    argmax_warp(bv, bi);
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    if (lane == 0) { wv[warp] = bv; wi[warp] = bi; }
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + WARP - 1) / WARP;
        bv = lane < warps ? wv[lane] : __int_as_float(0xff800000);
        bi = lane < warps ? wi[lane] : none;
        argmax_warp(bv, bi);
        if (lane == 0) out[blockIdx.x] = (bi == none || (!draw && isnan(row[0]))) ? 0 : bi;
    }
}

// ---------------------------------------------------------------- training: backward through activations
// Steering-vector training backpropagates through the frozen model: gradients flow to the activations (and from
// there to the steering vectors), never to the weights. The forward of training runs over packed sequences (all the
// batch's rows in one [rows][width] matrix, no KV cache); these kernels are what its backward adds to the ones above
// (rmsnorm_backward, silu_mul_backward, and the cuBLAS products with float32 weights from widen_f32).

// Backward of causal grouped-query attention over packed sequences: q, dq and dOut are [rows][heads*headDim], k, v,
// dk and dv [rows][kvHeads*headDim]. Row t is at position positions[t] of the sequence whose first row is seqStart[t]
// (t == seqStart[t] + positions[t]) and attends to rows seqStart[t] + j, j = first..positions[t], through kv head
// h / (heads/kvHeads), first = max(0, positions[t] - window + 1) when window > 0, else 0. Forward: s_j = scale *
// q_t.k_j, soft-capped to c_j = cap * tanh(s_j / cap) when cap > 0 (else c_j = s_j), p = softmax(c),
// out_t = sum_j p_j v_j. Given dOut this ADDS
//   dq_t += sum_j ds_j k_j,   dk_j += ds_j q_t,   dv_j += p_j dOut_t,
// where dp_j = dOut_t.v_j and ds_j = p_j (dp_j - sum_i p_i dp_i) * (1 - (c_j / cap)^2, or 1 without a cap) * scale.
// Block (head h, row t), 128 threads (ATT_WARPS warps), headDim <= 256. The probabilities are recomputed as the
// forward computes them (max subtracted) and kept, with dp then ds, in the block's slot of `scratch`: p[first..pos] at
// scratch + (t*heads + h) * 2 * stride, dp/ds[first..pos] `stride` floats further (stride >= the largest position + 1).
//   1. warp w takes positions j = first + w, first + w + 4, ...: lanes over the head's dims (coalesced reads of k_j
//      and v_j), s_j and dp_j by shuffle sums; the slot keeps c_j (not p_j) until step 2's last pass;
//   2. block max of c, block sum of e^(c_j - max), block sum of p_j dp_j, then ds_j (p_j recomputed from c_j in each
//      pass, since the cap's derivative needs c_j after the sums), p_j over c_j;
//   3. threads over dims: dq_t += sum_j ds_j k_j (only this block writes row t, head h of dq);
//   4. threads over (j, dim): atomicAdd into dk_j and dv_j, which the group's heads and the sequence's later rows share.
extern "C" __global__ void attention_backward(float* dq, float* dk, float* dv, const float* dOut, const float* q, const float* k,
                                              const float* v, const int* seqStart, const int* positions, int heads, int kvHeads,
                                              int headDim, float scale, float* scratch, int stride, float cap, int window) {
    __shared__ float qs[ATT_MAX_PER_LANE * WARP], gs[ATT_MAX_PER_LANE * WARP]; // q_t and dOut_t of this head
    int h = blockIdx.x, t = blockIdx.y;
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP, warps = blockDim.x / WARP;
    int pos = positions[t];
    long qOff = (long) t * heads * headDim + (long) h * headDim;
    long kv0 = (long) seqStart[t] * kvHeads * headDim + (long) (h / (heads / kvHeads)) * headDim; // the sequence's row 0, this kv head
    long kvDim = (long) kvHeads * headDim;
    float* P = scratch + ((long) t * heads + h) * 2 * stride;
    float* D = P + stride;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) { qs[d] = q[qOff + d]; gs[d] = dOut[qOff + d]; }
    __syncthreads();

    int first = window > 0 ? max(0, pos - window + 1) : 0;
    float m = -INFINITY;
    for (int j = first + warp; j <= pos; j += warps) {
        const float* kj = k + kv0 + j * kvDim;
        const float* vj = v + kv0 + j * kvDim;
        float s = 0.0f, dp = 0.0f;
        for (int d = lane; d < headDim; d += WARP) { s += qs[d] * kj[d]; dp += gs[d] * vj[d]; }
        s = warp_sum(s) * scale;
        if (cap > 0.0f) s = cap * tanhf(s / cap);
        dp = warp_sum(dp);
        if (lane == 0) { P[j] = s; D[j] = dp; }
        m = fmaxf(m, s);
    }
    m = block_max(m); // its barriers also make P and D, written by each warp's lane 0, visible to the whole block
    float l = 0.0f;
    for (int j = first + threadIdx.x; j <= pos; j += blockDim.x) l += expf(P[j] - m);
    l = block_sum(l);
    float pdp = 0.0f;
    for (int j = first + threadIdx.x; j <= pos; j += blockDim.x) pdp += expf(P[j] - m) / l * D[j];
    pdp = block_sum(pdp);
    for (int j = first + threadIdx.x; j <= pos; j += blockDim.x) { // c_j -> p_j, dp_j -> ds_j, same thread
        float c = P[j], p = expf(c - m) / l, r = c / cap;
        P[j] = p;
        D[j] = p * (D[j] - pdp) * (cap > 0.0f ? 1.0f - r * r : 1.0f) * scale;
    }
    __syncthreads();

    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float a = 0.0f;
        for (int j = first; j <= pos; j++) a += D[j] * k[kv0 + j * kvDim + d];
        dq[qOff + d] += a;
    }
    for (long i = threadIdx.x; i < (long) (pos + 1 - first) * headDim; i += blockDim.x) {
        int j = first + (int) (i / headDim), d = (int) (i % headDim);
        long at = kv0 + j * kvDim + d;
        atomicAdd(&dk[at], D[j] * qs[d]);
        atomicAdd(&dv[at], P[j] * gs[d]);
    }
}

// A weight matrix (or a view of its rows) in its device format -> float32: out[i] = element i of the row-major matrix
// at w, i < n. format is DeviceFormat's ordinal: 0 F32 (a copy), 1 F16, 2 BF16, 3 Q8_0, 4 Q4_0, 5 Q4_K, 6 Q6_K, 7 Q5_K,
// 8 Q5_0, 9 Q4_1, 10 Q5_1 (all but Q8_0 / Q4_0 as their *_weight functions compute them); Q8_0 / Q4_0 as
// repacked (quants at w, f16 scales at scales, scales[i/32] for element i, read as dequant_q8_0_f16 / dequant_q4_0_f16
// read them) and widened exactly: the f16 scale times the quant in float, with no f16 rounding of the product, so the
// backward multiplies by the same weights as the CPU's forward. Grid-stride loop, one element per thread.
extern "C" __global__ void widen_f32(float* out, const void* w, const __half* scales, int format, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
        float x;
        if (format == 0) x = reinterpret_cast<const float*>(w)[i];
        else if (format == 1) x = __half2float(reinterpret_cast<const __half*>(w)[i]);
        else if (format == 2) x = __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(w)[i]);
        else if (format == 3) x = __half2float(scales[i / 32]) * (float) reinterpret_cast<const int8_t*>(w)[i];
        else if (format == 4) {
            uint8_t q = reinterpret_cast<const uint8_t*>(w)[(i / 32) * 16 + i % 16];
            x = __half2float(scales[i / 32]) * (float) ((i % 32 < 16 ? (q & 0x0F) : (q >> 4)) - 8);
        } else if (format == 5) x = q4_k_weight(reinterpret_cast<const uint8_t*>(w), i);
        else if (format == 6) x = q6_k_weight(reinterpret_cast<const uint8_t*>(w), scales, i);
        else if (format == 7) x = q5_k_weight(reinterpret_cast<const uint8_t*>(w), i);
        else if (format == 8) x = q5_0_weight(reinterpret_cast<const uint8_t*>(w), scales, i);
        else if (format == 9) x = q4_1_weight(reinterpret_cast<const uint8_t*>(w), scales, i);
        else x = q5_1_weight(reinterpret_cast<const uint8_t*>(w), scales, i);
        out[i] = x;
    }
}

// Many equal-width slices between two float buffers in one launch: for slice b = blockIdx.x (gridDim.x of them) and
// i < width, dst[dstOffsets[b] + i] = (accumulate ? dst[dstOffsets[b] + i] : 0) + src[srcOffsets[b] + i]. Offsets are
// device int64, in floats. Training gathers rows or pieces of rows (a position's residual, a head) into a compact buffer
// and scatters their gradients back; one block per slice, threads over its width.
extern "C" __global__ void slices(float* dst, const long long* dstOffsets, const float* src, const long long* srcOffsets, int width,
                                  int accumulate) {
    float* d = dst + dstOffsets[blockIdx.x];
    const float* s = src + srcOffsets[blockIdx.x];
    for (int i = threadIdx.x; i < width; i += blockDim.x) d[i] = accumulate ? d[i] + s[i] : s[i];
}

#define COLSUM_WARPS 8

// out[c] += sum_r y[r][c] for c < width over `rows` rows of y: the gradient of a vector added to every row (a steering
// vector). Rows are many (~20000) and columns ~1536, so blocks split both: block (column tile x of 32 columns, row
// chunk y of ceil(rows / gridDim.y) rows), COLSUM_WARPS warps. Lane = column within the tile, so a warp reads 128
// contiguous bytes of a row; warp w sums rows w, w + COLSUM_WARPS, ... of the chunk, shared memory adds the warps'
// sums, and one atomicAdd per column and chunk goes into out.
extern "C" __global__ void column_sums(float* out, const float* y, int rows, int width) {
    __shared__ float part[COLSUM_WARPS][WARP];
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    int c = blockIdx.x * WARP + lane;
    int chunk = (rows + gridDim.y - 1) / gridDim.y, r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
    float s = 0.0f;
    if (c < width)
        for (int r = r0 + warp; r < r1; r += COLSUM_WARPS) s += y[(long) r * width + c];
    part[warp][lane] = s;
    __syncthreads();
    if (warp == 0 && c < width && r0 < r1) {
        float a = 0.0f;
        for (int w = 0; w < COLSUM_WARPS; w++) a += part[w][lane];
        atomicAdd(&out[c], a);
    }
}

// ---------------------------------------------------------------- training: softmax losses over the vocabulary
// Training's losses on the device read the logits, float32 [rows][vocab] row-major: vocab ~152,000 and rows up to
// ~20,000, about 12 GB, so these kernels are bound by the passes they make over the logits. One block per row
// (gridDim.x = rows; blockDim.x a multiple of 32, at most 1024: the host launches 512, ~300 elements a thread for
// Qwen's vocabulary), threads striding over the row so that a warp reads 128 contiguous bytes. The softmax is
// max-subtracted, p_i = e^(z_i - M) / S with M = max_i z_i and S = sum_i e^(z_i - M), so no exponential overflows
// (logits of 100) or leaves a zero sum (logits of -200), and every sum is accumulated in float.

// The row's M, S and (when T_TOO) T = sum_i e^(z_i - M) (z_i - M), reading the row once, for every thread of the
// block: each thread keeps the max m of the elements it has read, s = sum e^(z - m) and t = sum e^(z - m) (z - m),
// rescaled by c = e^(m_old - m_new) whenever its max grows (s' = c s, t' = c (t + (m_old - m_new) s)); a block max
// gives M, each thread rescales its s and t to M the same way, and block sums give S and T. A logit of -inf (a masked
// token) adds nothing (its e^(z - M) is 0; 0 * -inf would make t NaN); a NaN logit makes S and T NaN. s is 0 exactly
// while a thread has read nothing but -inf (or nothing at all): such a thread adds 0.
template <bool T_TOO>
__device__ void softmax_stats(const float* z, int vocab, float& M, float& S, float& T) {
    float m = -INFINITY, s = 0.0f, t = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        float x = z[i];
        if (x > m) { // a new max (never a NaN): rescale what is summed so far, then add x's own e^0 = 1 (its t term is 0)
            if (s != 0.0f) {
                float d = m - x, c = expf(d);
                if (T_TOO) t = c * (t + d * s);
                s *= c;
            }
            m = x;
            s += 1.0f;
        } else if (x != -INFINITY) { // NaN included: it reaches s
            float d = x - m, e = expf(d);
            s += e;
            if (T_TOO) t += e * d;
        }
    }
    M = block_max(m);
    float sm = 0.0f, tm = 0.0f;
    if (s != 0.0f) {
        float d = m - M, c = expf(d);
        sm = c * s;
        if (T_TOO) tm = c * (t + d * s);
    }
    S = block_sum(sm);
    T = T_TOO ? block_sum(tm) : 0.0f;
}

// out[r] = log softmax(logits[r])[targets[r]] = z_t - M - log S (targets: int [rows]): the log-probability of each
// row's next token, which cross-entropy and policy-gradient losses are made of. One pass over the row; thread 0
// writes. A target outside [0, vocab) gives NaN (the kernel reads no memory for it).
extern "C" __global__ void log_probs(float* out, const float* logits, const int* targets, int vocab) {
    const float* z = logits + (long) blockIdx.x * vocab;
    float M, S, T;
    softmax_stats<false>(z, vocab, M, S, T);
    if (threadIdx.x == 0) {
        int t = targets[blockIdx.x];
        out[blockIdx.x] = (t >= 0 && t < vocab) ? z[t] - M - logf(S) : __int_as_float(0x7fc00000);
    }
}

// The gradient of sum_r coef[r] * log_probs[r]: dLogits[r][i] += coef[r] * (delta(i == targets[r]) - p_r[i])
// (coef: float [rows], the loss's weight of each row: -1/N for a mean cross-entropy, a token's advantage for a policy
// gradient). Accumulates, so several losses can add into one gradient. A row whose coef is 0 (padding, a prompt token)
// returns at once, the whole block before any barrier: its dLogits row is not touched and its logits not read. Else
// two passes: softmax_stats, then each thread adds its elements' terms. A target outside [0, vocab) makes the row's
// additions NaN.
extern "C" __global__ void logprob_grad(float* dLogits, const float* logits, const int* targets, const float* coef, int vocab) {
    float c = coef[blockIdx.x];
    if (c == 0.0f) return;
    long base = (long) blockIdx.x * vocab;
    const float* z = logits + base;
    float* g = dLogits + base;
    float M, S, T;
    softmax_stats<false>(z, vocab, M, S, T);
    int t = targets[blockIdx.x];
    float inv = (t >= 0 && t < vocab) ? 1.0f / S : __int_as_float(0x7fc00000);
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        float p = expf(z[i] - M) * inv;
        g[i] += c * ((i == t ? 1.0f : 0.0f) - p);
    }
}

// out[r] = H_r = -sum_i p_i log p_i of each row's softmax: with log p_i = (z_i - M) - log S, H = log S - T / S, where
// T / S = sum_i p_i (z_i - M) (the max already subtracted, so no large M cancels against a large sum p_i z_i).
// When dLogits is not 0, also its gradient times coef (float [rows]):
//   dLogits[r][i] += coef[r] * (-p_i (log p_i + H_r)) = coef[r] * (-p_i ((z_i - M) - T / S)),
// skipping rows whose coef is 0 (their dLogits row untouched) and elements whose p_i is 0 (-inf logits, where the
// limit of the term is 0); when dLogits is 0, coef is not read (and may be 0). One pass for the entropy, a second to
// add the gradient. Rows' entropy bonuses (or penalties) in RL training.
extern "C" __global__ void entropy_rows(float* out, float* dLogits, const float* logits, const float* coef, int vocab) {
    long base = (long) blockIdx.x * vocab;
    const float* z = logits + base;
    float M, S, T;
    softmax_stats<true>(z, vocab, M, S, T);
    float mean = T / S;
    if (threadIdx.x == 0) out[blockIdx.x] = logf(S) - mean;
    if (!dLogits) return;
    float c = coef[blockIdx.x];
    if (c == 0.0f) return;
    float* g = dLogits + base;
    float inv = 1.0f / S;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        float d = z[i] - M, p = expf(d) * inv;
        if (p != 0.0f) g[i] += c * (-p * (d - mean));
    }
}
