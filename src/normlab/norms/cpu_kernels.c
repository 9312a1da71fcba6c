/* Fused CPU kernels for normlab's norms (float32, contiguous rows of length n).
 *
 * torch's stock kernels leave AdaNorm, RMSNorm, DyT and DetachNorm's mean variant one to four
 * full-tensor passes behind a fused nn.LayerNorm; here each forward and backward is one pass over
 * the data, with the per-row reductions done while the row sits in L1. Built and loaded by
 * cpu_kernels.py through ctypes; rows are spread over OpenMP threads, and the per-row work is
 * compiled for AVX2 and for baseline x86-64, picked at load time.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VECTOR_CLONES
#endif

enum { FULL = 0, DETACH_MEAN = 1, DETACH_STD = 2, DETACH_BOTH = 3 };

/* ---- (x - mu) / d, optionally AdaNorm scale * (1 - k*y) * y --------------------------------- */

VECTOR_CLONES static void norm_row_fwd(const float *x, float *z, int64_t n, float eps, int unbiased,
                                       int eps_on_std, float scale, float k, float *mean_out,
                                       float *invd_out, float *alpha_out) {
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) sum += x[j];
    const float mu = (float)(sum / n);
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < n; j++) {
        const float c = x[j] - mu;
        ss += (double)c * c;
    }
    const double var = ss / (double)(unbiased ? n - 1 : n);
    double d, alpha;
    if (eps_on_std) {
        const double sd = sqrt(var);
        d = sd + eps;
        /* dsd/dx_j = xc_j / ((N-u) sd); a constant row has y = 0, so its term vanishes */
        alpha = sd > 0.0 ? 1.0 / ((double)(unbiased ? n - 1 : n) * sd) : 0.0;
    } else {
        d = sqrt(var + eps);
        alpha = 1.0 / ((double)(unbiased ? n - 1 : n) * d);
    }
    const float invd = (float)(1.0 / d);
    const float a = scale, b = -scale * k;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        const float y = (x[j] - mu) * invd;
        z[j] = y * (a + b * y);
    }
    *mean_out = mu;
    *invd_out = invd;
    *alpha_out = (float)alpha;
}

VECTOR_CLONES static void norm_row_bwd(const float *g, const float *x, float *dx, int64_t n, float mu,
                                       float invd, float alpha, int mode, float scale, float k) {
    /* G = g * scale * (1 - k*y): the gradient reaching y (AdaNorm's factor is detached). */
    double sg = 0.0, sgy = 0.0;
#pragma omp simd reduction(+ : sg, sgy)
    for (int64_t j = 0; j < n; j++) {
        const float y = (x[j] - mu) * invd;
        const float G = g[j] * scale * (1.0f - k * y);
        sg += G;
        sgy += (double)G * y;
    }
    /* dx = invd*(G - [mean G]) - [alpha * sum(G*y) * y]: the bracketed terms are the
     * gradients through mu and through d, dropped when they are detached. */
    const float mg = (mode == FULL || mode == DETACH_STD) ? (float)(sg / n) : 0.0f;
    const float c = (mode == FULL || mode == DETACH_MEAN) ? (float)(alpha * sgy) : 0.0f;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        const float y = (x[j] - mu) * invd;
        const float G = g[j] * scale * (1.0f - k * y);
        dx[j] = invd * (G - mg) - c * y;
    }
}

void normlab_norm_fwd(const float *x, float *z, float *mean, float *invd, float *alpha, int64_t rows,
                      int64_t n, float eps, int unbiased, int eps_on_std, float scale, float k,
                      int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        norm_row_fwd(x + r * n, z + r * n, n, eps, unbiased, eps_on_std, scale, k, mean + r, invd + r,
                     alpha + r);
}

void normlab_norm_bwd(const float *g, const float *x, const float *mean, const float *invd,
                      const float *alpha, float *dx, int64_t rows, int64_t n, int mode, float scale,
                      float k, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        norm_row_bwd(g + r * n, x + r * n, dx + r * n, n, mean[r], invd[r], alpha[r], mode, scale, k);
}

/* ---- RMSNorm: x * rinv [* w], rinv = 1/sqrt(mean(x^2) + eps) --------------------------------- */

VECTOR_CLONES static void rms_row_fwd(const float *x, const float *w, float *z, int64_t n, float eps,
                                      float *rinv_out) {
    double ss = 0.0;
#pragma omp simd reduction(+ : ss)
    for (int64_t j = 0; j < n; j++) ss += (double)x[j] * x[j];
    const float rinv = (float)(1.0 / sqrt(ss / n + eps));
    if (w) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) z[j] = x[j] * rinv * w[j];
    } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) z[j] = x[j] * rinv;
    }
    *rinv_out = rinv;
}

VECTOR_CLONES static void rms_row_bwd(const float *g, const float *x, const float *w, float *dx,
                                      float *dw_acc, int64_t n, float rinv) {
    /* y = x*rinv; dx = rinv*(gw - y*mean(gw*y)); dw += g*y */
    double s = 0.0;
    if (w) {
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++) s += (double)g[j] * w[j] * x[j];
    } else {
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++) s += (double)g[j] * x[j];
    }
    const float c = (float)(s * rinv * rinv / n);
    if (w) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            dx[j] = rinv * (g[j] * w[j] - x[j] * c);
            if (dw_acc) dw_acc[j] += g[j] * x[j] * rinv;
        }
    } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) dx[j] = rinv * (g[j] - x[j] * c);
    }
}

void normlab_rms_fwd(const float *x, const float *w, float *z, float *rinv, int64_t rows, int64_t n,
                     float eps, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) rms_row_fwd(x + r * n, w, z + r * n, n, eps, rinv + r);
}

/* dw_parts: threads x n scratch, one accumulator per thread, summed into dw at the end. */
void normlab_rms_bwd(const float *g, const float *x, const float *w, const float *rinv, float *dx,
                     float *dw, float *dw_parts, int64_t rows, int64_t n, int threads) {
    if (dw) memset(dw_parts, 0, sizeof(float) * (size_t)threads * (size_t)n);
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        extern int omp_get_thread_num(void);
        float *acc = dw ? dw_parts + (int64_t)omp_get_thread_num() * n : NULL;
#else
        float *acc = dw ? dw_parts : NULL;
#endif
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++) rms_row_bwd(g + r * n, x + r * n, w, dx + r * n, acc, n, rinv[r]);
    }
    if (dw) {
        memset(dw, 0, sizeof(float) * (size_t)n);
        for (int t = 0; t < threads; t++)
            for (int64_t j = 0; j < n; j++) dw[j] += dw_parts[(int64_t)t * n + j];
    }
}

/* ---- Dynamic Tanh: w * tanh(alpha*x) + b ------------------------------------------------------
 * libm's tanhf does not vectorize, so tanh is computed here from Cephes' single-precision
 * approximations (an odd polynomial below |x| = 0.625, 1 - 2/(exp(2|x|) + 1) above), which
 * stay within a few float ulps of tanhf (checked against torch.tanh in the tests). An infinite
 * input gives NaN here (tanhf gives +-1): infinities have already diverged training anyway. */

/* exp(x) for 0 <= x <= 18 (all tanh needs). Only arithmetic: selects (?:) keep GCC from
 * vectorizing these loops, so the branches below are blends with 0/1 masks. */
static inline __attribute__((always_inline)) float exp_approx(float x) {
    const int32_t ni = (int32_t)(x * 1.44269504088896341f + 0.5f); /* round half up, x >= 0 */
    const float n = (float)ni;
    const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { float f; int32_t i; } scale;
    scale.i = (ni + 127) << 23;
    return p * scale.f;
}

static inline __attribute__((always_inline)) float tanh_approx(float x) {
    const float ax = fabsf(x);
    const float near = (float)(ax < 0.625f), far = 1.0f - near;
    const float xs = x * near; /* the polynomial only where it is used (it overflows far out) */
    const float z = xs * xs;
    float small = -5.70498872745e-3f;
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = small * z * xs + xs;
    const float clip = (float)(ax > 9.0f); /* tanh(9) rounds to 1 in float; fminf would not vectorize */
    const float ac = ax * (1.0f - clip) + 9.0f * clip;
    const float big = (1.0f - 2.0f * (float)(x < 0.0f)) * (1.0f - 2.0f / (exp_approx(2.0f * ac) + 1.0f));
    return near * small + far * big;
}

VECTOR_CLONES static void dyt_row_fwd(const float *x, float alpha, const float *w, const float *b,
                                      float *t, float *z, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        const float tj = tanh_approx(alpha * x[j]);
        t[j] = tj;
        z[j] = w[j] * tj + b[j];
    }
}

VECTOR_CLONES static void dyt_row_bwd(const float *g, const float *x, const float *t, float alpha,
                                      const float *w, float *dx, float *dw, float *db, double *dalpha,
                                      int64_t n) {
    float da = 0.0f; /* a row's share in float (it vectorizes); rows add up in double */
#pragma omp simd reduction(+ : da)
    for (int64_t j = 0; j < n; j++) {
        const float du = g[j] * w[j] * (1.0f - t[j] * t[j]); /* gradient at alpha*x */
        dx[j] = du * alpha;
        da += du * x[j];
        dw[j] += g[j] * t[j];
        db[j] += g[j];
    }
    *dalpha += da;
}

void normlab_dyt_fwd(const float *x, float alpha, const float *w, const float *b, float *t, float *z,
                     int64_t rows, int64_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) dyt_row_fwd(x + r * n, alpha, w, b, t + r * n, z + r * n, n);
}

/* parts: threads x 2n scratch (dw and db per thread); dalpha: one double per thread. */
void normlab_dyt_bwd(const float *g, const float *x, const float *t, float alpha, const float *w,
                     float *dx, float *dw, float *db, float *dalpha, float *parts, double *alpha_parts,
                     int64_t rows, int64_t n, int threads) {
    memset(parts, 0, sizeof(float) * (size_t)threads * 2 * (size_t)n);
    memset(alpha_parts, 0, sizeof(double) * (size_t)threads);
#pragma omp parallel num_threads(threads)
    {
#ifdef _OPENMP
        extern int omp_get_thread_num(void);
        const int id = omp_get_thread_num();
#else
        const int id = 0;
#endif
        float *pw = parts + (int64_t)id * 2 * n, *pb = pw + n;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; r++)
            dyt_row_bwd(g + r * n, x + r * n, t + r * n, alpha, w, dx + r * n, pw, pb, alpha_parts + id, n);
    }
    double da = 0.0;
    memset(dw, 0, sizeof(float) * (size_t)n);
    memset(db, 0, sizeof(float) * (size_t)n);
    for (int id = 0; id < threads; id++) {
        da += alpha_parts[id];
        for (int64_t j = 0; j < n; j++) {
            dw[j] += parts[(int64_t)id * 2 * n + j];
            db[j] += parts[(int64_t)id * 2 * n + n + j];
        }
    }
    *dalpha = (float)da;
}
