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
#define VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
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
 * libm's tanhf does not vectorize, so tanh is a rational minimax approximation (odd degree-13
 * numerator over degree-6 denominator on |x| <= 7.9053, where float tanh reaches 1: the form
 * Eigen uses for float), within 3e-7 of tanh (checked against torch.tanh in the tests). */

static inline __attribute__((always_inline)) float tanh_approx(float x) {
    const float c = 7.90531110763549805f;
    float xc = x > c ? c : x;
    xc = xc < -c ? -c : xc;
    const float x2 = xc * xc;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p * xc / q;
}

/* Memory traffic bounds these loops, so the forward writes only z and the backward recomputes
 * tanh instead of reading a saved copy. */
VECTOR_CLONES static void dyt_row_fwd(const float *x, float alpha, const float *w, const float *b, float *z,
                                      int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) z[j] = w[j] * tanh_approx(alpha * x[j]) + b[j];
}

VECTOR_CLONES static void dyt_row_bwd(const float *g, const float *x, float alpha, const float *w, float *dx,
                                      float *dw, float *db, double *dalpha, int64_t n) {
    float da = 0.0f; /* a row's share in float (it vectorizes); rows add up in double */
#pragma omp simd reduction(+ : da)
    for (int64_t j = 0; j < n; j++) {
        const float t = tanh_approx(alpha * x[j]);
        const float du = g[j] * w[j] * (1.0f - t * t); /* gradient at alpha*x */
        dx[j] = du * alpha;
        da += du * x[j];
        dw[j] += g[j] * t;
        db[j] += g[j];
    }
    *dalpha += da;
}

void normlab_dyt_fwd(const float *x, float alpha, const float *w, const float *b, float *z, int64_t rows,
                     int64_t n, int threads) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) dyt_row_fwd(x + r * n, alpha, w, b, z + r * n, n);
}

/* parts: threads x 2n scratch (dw and db per thread); dalpha: one double per thread. */
void normlab_dyt_bwd(const float *g, const float *x, float alpha, const float *w,
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
            dyt_row_bwd(g + r * n, x + r * n, alpha, w, dx + r * n, pw, pb, alpha_parts + id, n);
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
