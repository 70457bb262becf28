/* ULSAM's inference pooling in one pass over x (used by lightattn_ref.attention.ulsam).
 *
 * For every subspace s of x viewed as (N*G, C/G, H, W), with g = s mod G and channels c:
 *
 *     u[s, i, j] = sum_c weight[g, c] * max(floors[g, c], max_{|di|,|dj| <= 1} scale[g, c] * x[s, c, i+di, j+dj])
 *
 * where the window stops at the borders (padding that never wins a max). This is
 * ulsam.pooled_pointwise without its "+ bias": the same numbers up to the order of the sum over
 * c. PyTorch needs seven passes over cache-sized chunks for it; here each plane is read once,
 * its three-wide row maxima are kept in a small buffer, and the weighted sum accumulates in u.
 *
 * Plain C99 with OpenMP and no PyTorch headers, so one build serves any PyTorch version. The
 * Python side (ulsam.pooled_pointwise_c) checks shapes, dtypes and contiguity and passes the
 * data pointers. Each thread takes a contiguous range of subspaces.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* The compare-and-select form vectorises, where fmaxf does not. It may drop a NaN, so the
 * kernel watches for NaNs separately (see run_subspace). */
static inline float max2(float a, float b) { return a > b ? a : b; }

/* row_max[i, j] = max over the three-wide row window at (i, j) of scale * plane[i, j];
 * returns whether the plane holds a NaN */
static int row_maxima(const float *plane, float scale, int64_t h, int64_t w, float *row_max) {
    int nan = 0;
    for (int64_t i = 0; i < h; i++) {
        const float *r = plane + i * w;
        float *o = row_max + i * w;
        for (int64_t j = 0; j < w; j++) nan |= r[j] != r[j];
        if (w == 1) {
            o[0] = scale * r[0];
            continue;
        }
        o[0] = max2(scale * r[0], scale * r[1]);
        for (int64_t j = 1; j < w - 1; j++) o[j] = max2(max2(scale * r[j - 1], scale * r[j]), scale * r[j + 1]);
        o[w - 1] = max2(scale * r[w - 2], scale * r[w - 1]);
    }
    return nan;
}

/* Whether some scale * plane[k] is NaN although plane holds none: 0 times an infinity, or a scale
 * that is itself infinite or NaN. Rare, so it is checked only for such scales. */
static int nan_product(const float *plane, float scale, int64_t size) {
    if (scale != 0.0f && isfinite(scale)) return 0;
    for (int64_t k = 0; k < size; k++)
        if (isnan(scale * plane[k])) return 1;
    return 0;
}

/* u[i, j] += weight * max(least, max of row_max over rows i-1 .. i+1) */
static void add_column_maxima(const float *row_max, float least, float weight, int64_t h, int64_t w, float *u) {
    for (int64_t i = 0; i < h; i++) {
        const float *above = row_max + (i > 0 ? i - 1 : i) * w;
        const float *here = row_max + i * w;
        const float *below = row_max + (i < h - 1 ? i + 1 : i) * w;
        float *o = u + i * w;
        for (int64_t j = 0; j < w; j++) o[j] += weight * max2(max2(max2(above[j], here[j]), below[j]), least);
    }
}

typedef struct {
    const float *x, *scale, *floors, *weight;
    float *u;
    int64_t groups, width, h, w;
} Arguments;

/* u of subspace s. A NaN among its products scale * x makes all of its u NaN: the softmax over
 * the map that follows in ULSAM spreads a NaN over the whole map anyway, as it does in the
 * official code. */
static void run_subspace(const Arguments *a, int64_t s, float *row_max) {
    const int64_t plane = a->h * a->w;
    const int64_t offset = (s % a->groups) * a->width; /* this subspace's parameters */
    float *u = a->u + s * plane;
    int nan = 0;
    for (int64_t k = 0; k < plane; k++) u[k] = 0.0f;
    for (int64_t c = 0; c < a->width; c++) {
        const float *x = a->x + (s * a->width + c) * plane;
        nan |= row_maxima(x, a->scale[offset + c], a->h, a->w, row_max) || nan_product(x, a->scale[offset + c], plane);
        add_column_maxima(row_max, a->floors[offset + c], a->weight[offset + c], a->h, a->w, u);
    }
    if (nan)
        for (int64_t k = 0; k < plane; k++) u[k] = NAN;
}

/* All subspaces, split among `threads` threads of PyTorch's own OpenMP pool where the kernel was
 * built with OpenMP (one runtime: the loader binds libgomp.so.1 to the copy PyTorch loaded);
 * one after another otherwise. Returns 0, or -1 if a scratch buffer could not be allocated. */
static int run_all(const Arguments *a, int64_t subspaces, int threads) {
    int failed = 0;
    (void)threads;
#pragma omp parallel num_threads(threads)
    {
        float *row_max = malloc(sizeof(float) * (size_t)(a->h * a->w));
        if (row_max == NULL) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t s = 0; s < subspaces; s++)
            if (row_max != NULL) run_subspace(a, s, row_max);
        free(row_max);
    }
    return failed ? -1 : 0;
}

static PyObject *pooled_pointwise(PyObject *self, PyObject *args) {
    unsigned long long x, scale, floors, weight, u;
    long long n, groups, width, h, w;
    int threads;
    (void)self;
    if (!PyArg_ParseTuple(args, "KKKKKLLLLLi", &x, &scale, &floors, &weight, &u, &n, &groups, &width, &h, &w, &threads))
        return NULL;
    if (n < 1 || groups < 1 || width < 1 || h < 1 || w < 1) {
        PyErr_Format(PyExc_ValueError, "n=%lld, groups=%lld, width=%lld, h=%lld and w=%lld must all be positive", n,
                     groups, width, h, w);
        return NULL;
    }
    if (threads < 1) {
        PyErr_Format(PyExc_ValueError, "threads=%d must be positive", threads);
        return NULL;
    }
    const Arguments a = {(const float *)(uintptr_t)x, (const float *)(uintptr_t)scale, (const float *)(uintptr_t)floors,
                         (const float *)(uintptr_t)weight, (float *)(uintptr_t)u, groups, width, h, w};
    int failed;
    Py_BEGIN_ALLOW_THREADS
    failed = run_all(&a, (int64_t)n * groups, threads);
    Py_END_ALLOW_THREADS
    if (failed) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"pooled_pointwise", pooled_pointwise, METH_VARARGS,
     "pooled_pointwise(x, scale, floors, weight, u, n, groups, width, h, w, threads): data pointers of contiguous "
     "float32 tensors x (n, groups * width, h, w), scale, floors (groups * width,), weight (groups, width); writes "
     "u (n, groups, h, w). See ulsam.pooled_pointwise_c."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ulsam_kernel", "ULSAM's inference pooling in one pass over x (C).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__ulsam_kernel(void) { return PyModule_Create(&module); }
