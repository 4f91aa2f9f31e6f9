// attention_tiled's CUDA source run on host threads (host-sim.sh builds and runs it): one std::thread per CUDA thread, one
// block at a time; __syncthreads is a std::barrier over the block, a shuffle two barriers over its warp. Every barrier and
// shuffle checks that all its threads are at the same count (a divergent one fails or hangs: run under timeout); shared
// memory starts as NaN, and cache positions no row sees hold NaN. Checks the result against a float64 softmax.
#include <barrier>
#include <thread>
#include <vector>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <algorithm>
#include <atomic>
using std::min; using std::max;
struct D3 { unsigned x = 0, y = 0, z = 0; };
thread_local D3 threadIdx, blockIdx;
D3 blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
static std::barrier<>* blockBar;
struct Warp { std::barrier<>* bar; float slot[32]; long seq[32]; };
static Warp warps[32];
thread_local long shflCount, syncCount;
static long syncSeen[1024];
static void fail(const char* m) { fprintf(stderr, "FAIL: %s\n", m); fflush(stderr); _exit(2); }
float __shfl_sync(unsigned mask, float v, int src) {
    if (mask != 0xffffffffu) fail("mask");
    Warp& w = warps[threadIdx.x / 32]; int lane = threadIdx.x % 32;
    w.bar->arrive_and_wait();
    w.slot[lane] = v; w.seq[lane] = ++shflCount;
    w.bar->arrive_and_wait();
    for (int i = 0; i < 32; i++) if (w.seq[i] != shflCount) fail("divergent shuffle (lanes at different shuffle counts)");
    return w.slot[src & 31];
}
float __shfl_xor_sync(unsigned mask, float v, int o) { return __shfl_sync(mask, v, (threadIdx.x % 32) ^ o); }
void __syncthreads() {
    syncSeen[threadIdx.x] = ++syncCount;
    blockBar->arrive_and_wait();
    for (unsigned i = 0; i < blockDim.x; i++) if (syncSeen[i] != syncCount) fail("threads at different barrier counts");
    blockBar->arrive_and_wait();
}
#define POISON(a, n) do { if (threadIdx.x == 0) for (int _i = 0; _i < (n); _i++) (a)[_i] = NAN; __syncthreads(); } while (0)
#include "kernel.inc"

// float64 reference
static void reference(std::vector<double>& out, const float* q, const float* K, const float* V, const int* pos, int rows, int heads, int kvHeads,
                      int hd, float scale, float cap, int window) {
    int group = heads / kvHeads, kvDim = kvHeads * hd;
    out.assign((size_t) rows * heads * hd, 0);
    for (int t = 0; t < rows; t++) for (int h = 0; h < heads; h++) {
        int p = pos[t], f = window > 0 ? max(0, p - window + 1) : 0, kvh = h / group;
        std::vector<double> sc(p + 1); double mx = -INFINITY, sum = 0;
        for (int j = f; j <= p; j++) { double d = 0; for (int e = 0; e < hd; e++) d += (double) q[((size_t) t * heads + h) * hd + e] * K[(size_t) j * kvDim + kvh * hd + e];
            d *= scale; if (cap > 0) d = cap * tanh(d / cap); sc[j] = d; mx = std::max(mx, d); }
        for (int j = f; j <= p; j++) sum += sc[j] = exp(sc[j] - mx);
        for (int e = 0; e < hd; e++) { double a = 0; for (int j = f; j <= p; j++) a += sc[j] * V[(size_t) j * kvDim + kvh * hd + e]; out[((size_t) t * heads + h) * hd + e] = a / sum; }
    }
}

int main(int argc, char** argv) {
    int heads = atoi(argv[1]), kvHeads = atoi(argv[2]), hd = atoi(argv[3]), rows = atoi(argv[4]), start = atoi(argv[5]);
    float cap = atof(argv[6]); int window = atoi(argv[7]); int shuffle = argc > 8 ? atoi(argv[8]) : 0;
    int kvDim = kvHeads * hd;
    std::mt19937 rng(hd * 131 + rows); std::normal_distribution<float> g;
    std::vector<int> pos(rows);
    for (int t = 0; t < rows; t++) pos[t] = start + t;
    if (shuffle == 1) std::shuffle(pos.begin(), pos.end(), rng);                 // any order
    if (shuffle == 2) for (int t = 0; t < rows; t++) pos[t] = start + 3 * t;      // gaps: unwritten positions between
    int maxPos = *std::max_element(pos.begin(), pos.end());
    std::vector<float> K((size_t) (maxPos + 8) * kvDim, NAN), V(K.size(), NAN), q((size_t) rows * heads * hd);
    std::vector<char> written(maxPos + 8, 0);
    for (int t = 0; t < rows; t++) for (int j = window > 0 ? max(0, pos[t] - window + 1) : 0; j <= pos[t]; j++) written[j] = 1;
    for (int j = 0; j <= maxPos; j++) if (written[j]) for (int e = 0; e < kvDim; e++) { K[(size_t) j * kvDim + e] = g(rng); V[(size_t) j * kvDim + e] = g(rng); }
    for (auto& x : q) x = g(rng) * 2;
    float scale = 1.0f / sqrtf((float) hd);
    std::vector<unsigned long long> bk(rows, (unsigned long long) K.data()), bv(rows, (unsigned long long) V.data());
    std::vector<float> out(q.size(), NAN);
    blockDim.x = 128; gridDim.x = heads; gridDim.y = (rows + ATT_TILE_ROWS - 1) / ATT_TILE_ROWS;
    std::barrier<> bb(128); blockBar = &bb;
    std::vector<std::barrier<>*> wb; for (int w = 0; w < 4; w++) { wb.push_back(new std::barrier<>(32)); warps[w].bar = wb.back(); }
    for (unsigned by = 0; by < gridDim.y; by++) for (unsigned bx = 0; bx < gridDim.x; bx++) {
        std::vector<std::thread> th;
        for (int t = 0; t < 128; t++) th.emplace_back([&, t] { threadIdx.x = t; blockIdx.x = bx; blockIdx.y = by; shflCount = 0; syncCount = 0;
            attention_tiled(out.data(), q.data(), bk.data(), bv.data(), pos.data(), heads, kvHeads, hd, scale, cap, window, rows); });
        for (auto& x : th) x.join();
    }
    std::vector<double> ref; reference(ref, q.data(), K.data(), V.data(), pos.data(), rows, heads, kvHeads, hd, scale, cap, window);
    double err = 0;
    for (size_t i = 0; i < ref.size(); i++) { double e = fabs(out[i] - ref[i]) / std::max(1.0, fabs(ref[i])); if (!(e <= err)) err = std::isnan(e) ? INFINITY : std::max(err, e); }
    printf("heads %d kv %d hd %3d rows %3d start %4d cap %.2f window %3d order %d: max rel err %.2e %s\n", heads, kvHeads, hd, rows, start, cap, window, shuffle, err, err < 2e-5 ? "ok" : "BAD");
    return err < 2e-5 ? 0 : 1;
}
