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

// ---------------------------------------------------------------- conversions

extern "C" __global__ void f32_to_f16(__half* out, const float* in, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2half_rn(in[i]);
}

extern "C" __global__ void f32_to_bf16(__nv_bfloat16* out, const float* in, long n) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) out[i] = __float2bfloat16_rn(in[i]);
}

// ggml Q8_0: blocks of 32 weights = f16 scale + 32 int8. Dequantized once, on upload, to f16.
extern "C" __global__ void dequant_q8_0_f16(__half* out, const uint8_t* blocks, long nblocks) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < nblocks * 32; i += (long) gridDim.x * blockDim.x) {
        long b = i / 32; int j = (int) (i % 32);
        const uint8_t* blk = blocks + b * 34;
        float d = __half2float(*reinterpret_cast<const __half*>(blk));
        out[i] = __float2half_rn(d * (float) (int8_t) blk[2 + j]);
    }
}

// ggml Q4_0: blocks of 32 weights = f16 scale + 16 bytes; low nibbles are weights 0..15, high nibbles 16..31, minus 8.
extern "C" __global__ void dequant_q4_0_f16(__half* out, const uint8_t* blocks, long nblocks) {
    for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < nblocks * 32; i += (long) gridDim.x * blockDim.x) {
        long b = i / 32; int j = (int) (i % 32);
        const uint8_t* blk = blocks + b * 18;
        float d = __half2float(*reinterpret_cast<const __half*>(blk));
        uint8_t q = blk[2 + (j % 16)];
        int v = j < 16 ? (q & 0x0F) : (q >> 4);
        out[i] = __float2half_rn(d * (float) (v - 8));
    }
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
//   dx = r * (dy*w) - x * r^3 / n * sum(dy*w*x)      and, when dw != 0, dw += dy * x * r  (atomically over rows)
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
        dx[base + i] = r * g * w[i] - xi * c;
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

// Causal grouped-query attention. Block (head h, row t), ATT_WARPS warps: warp w takes positions j = w, w+W, ... <=
// positions[t], with an online softmax (running max m, sum l, accumulator acc over the head's dims spread across
// lanes); the warps' partial results are merged at the end. out[t][h] = sum_j softmax(q.k_j * scale)_j v_j.
extern "C" __global__ void attention(float* out, const float* q, const unsigned long long* layerBaseK, const unsigned long long* layerBaseV,
                                     const int* positions, int heads, int kvHeads, int headDim, float scale) {
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
    float m = -INFINITY, l = 0.0f;
    for (int j = warp; j <= pos; j += ATT_WARPS) {
        const float* kj = kc + (long) j * kvDim;
        const float* vj = vc + (long) j * kvDim;
        float s = 0.0f;
        for (int e = 0; e < per; e++) {
            int d = lane + e * WARP;
            if (d < headDim) s += qv[e] * kj[d];
        }
        s = warp_sum(s) * scale;
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

// ---------------------------------------------------------------- split-K attention for decode (flash-decoding)

// A decoded token has one row per sequence, so `attention` above runs only heads x rows blocks and each walks the
// whole context: at a depth of 4096 a 14-head model keeps 14 of 132 multiprocessors busy. Here the context is cut into
// `splits` chunks of `chunk` positions; block (head h, row t, split s) runs the same online softmax over its chunk and
// writes its unnormalised accumulator with its running max m and sum l: partial[((t*heads+h)*splits+s)*headDim + d]
// and ml[2*((t*heads+h)*splits+s) + {0,1}]. A chunk past the row's position writes m = -inf, l = 0.
extern "C" __global__ void attention_partial(float* partial, float* ml, const float* q, const unsigned long long* layerBaseK,
                                             const unsigned long long* layerBaseV, const int* positions, int heads, int kvHeads,
                                             int headDim, float scale, int chunk) {
    int h = blockIdx.x, t = blockIdx.y, sp = blockIdx.z, splits = gridDim.z;
    int lane = threadIdx.x % WARP, warp = threadIdx.x / WARP;
    int group = heads / kvHeads, kvDim = kvHeads * headDim;
    const float* qh = q + ((long) t * heads + h) * headDim;
    const float* kc = reinterpret_cast<const float*>(layerBaseK[t]) + (h / group) * headDim;
    const float* vc = reinterpret_cast<const float*>(layerBaseV[t]) + (h / group) * headDim;
    int pos = positions[t];
    int begin = sp * chunk, end = min(pos + 1, begin + chunk);
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

// x += branch (when branch is given: the residual add), then out = rmsnorm(x) * w stored as `type` (see store_as).
// One block per row. Replaces add_inplace + rmsnorm + f32_to_f16.
extern "C" __global__ void add_rmsnorm(float* x, const float* branch, void* out, const float* w, int width, float eps, int type) {
    float* xr = x + (long) blockIdx.x * width;
    const float* br = branch ? branch + (long) blockIdx.x * width : nullptr;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
        float v = xr[i];
        if (br) { v = v + br[i]; xr[i] = v; }
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
