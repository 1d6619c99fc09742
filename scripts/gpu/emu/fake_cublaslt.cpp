// A stand-in for libcublasLt.so.13: cublasLtMatmul on host memory (column-major, fp32 accumulation, bf16/fp32
// operands), with the attribute-size checks the real library makes.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

namespace {
struct Desc {
    int compute, scale;
    int32_t transa = 0, transb = 0;
    uint32_t epilogue = 1;
    const void *bias = nullptr;
};
struct Layout {
    int type;
    uint64_t rows, cols;
    int64_t ld;
    int32_t batch = 1;
    int64_t stride = 0;  // elements between consecutive matrices of a strided batch
};
struct Preference {
    uint64_t workspace = 0;
};
struct Algo {
    uint64_t data[8];
};
struct Heuristic {
    Algo algo;
    size_t workspaceSize;
    int state;
    float wavesCount;
    int reserved[4];
};

float load(int type, const void *p, uint64_t i) {
    if (type == 0) return ((const float *)p)[i];
    uint32_t bits = (uint32_t)((const uint16_t *)p)[i] << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void store(int type, void *p, uint64_t i, float v) {
    if (type == 0) {
        ((float *)p)[i] = v;
        return;
    }
    uint32_t u;
    memcpy(&u, &v, 4);
    if (std::isnan(v)) {
        ((uint16_t *)p)[i] = (uint16_t)((u >> 16) | 0x40);
        return;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    ((uint16_t *)p)[i] = (uint16_t)(u >> 16);
}
}  // namespace

extern "C" {
size_t cublasLtGetVersion() { return 130100; }
const char *cublasLtGetStatusString(int s) { return s == 0 ? "success" : "emulator error"; }
const char *cublasLtGetStatusName(int s) { return s == 0 ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE"; }
int cublasLtCreate(void **h) {
    static int handle;
    *h = &handle;
    return 0;
}
int cublasLtDestroy(void *) { return 0; }
int cublasLtMatmulDescCreate(void **d, int compute, int scale) {
    if (compute != 68 || scale != 0) return 7;
    *d = new Desc{compute, scale};
    return 0;
}
int cublasLtMatmulDescDestroy(void *d) {
    delete (Desc *)d;
    return 0;
}
int cublasLtMatmulDescSetAttribute(void *d, int attribute, const void *value, size_t size) {
    Desc *desc = (Desc *)d;
    switch (attribute) {
        case 3: if (size != 4) return 7; memcpy(&desc->transa, value, 4); return 0;
        case 4: if (size != 4) return 7; memcpy(&desc->transb, value, 4); return 0;
        case 7: if (size != 4) return 7; memcpy(&desc->epilogue, value, 4); return 0;
        case 8: if (size != 8) return 7; memcpy(&desc->bias, value, 8); return 0;
        default: return 7;
    }
}
int cublasLtMatrixLayoutCreate(void **l, int type, uint64_t rows, uint64_t cols, int64_t ld) {
    if ((type != 0 && type != 14) || ld < (int64_t)rows) return 7;
    *l = new Layout{type, rows, cols, ld};
    return 0;
}
int cublasLtMatrixLayoutSetAttribute(void *l, int attribute, const void *value, size_t size) {
    Layout *layout = (Layout *)l;
    switch (attribute) {
        case 5:
            if (size != 4) return 7;
            memcpy(&layout->batch, value, 4);
            return layout->batch >= 1 ? 0 : 7;
        case 6: if (size != 8) return 7; memcpy(&layout->stride, value, 8); return 0;
        default: return 7;
    }
}
int cublasLtMatrixLayoutDestroy(void *l) {
    delete (Layout *)l;
    return 0;
}
int cublasLtMatmulPreferenceCreate(void **p) {
    *p = new Preference;
    return 0;
}
int cublasLtMatmulPreferenceDestroy(void *p) {
    delete (Preference *)p;
    return 0;
}
int cublasLtMatmulPreferenceSetAttribute(void *p, int attribute, const void *value, size_t size) {
    if (attribute == 1) {
        if (size != 8) return 7;
        memcpy(&((Preference *)p)->workspace, value, 8);
        return 0;
    }
    if (attribute >= 5 && attribute <= 8) {
        if (size != 4) return 7;
        uint32_t a;
        memcpy(&a, value, 4);
        return (a == 0 || (a & (a - 1)) != 0) ? 7 : 0;
    }
    return 7;
}
int cublasLtMatmulAlgoGetHeuristic(void *, void *desc, void *a, void *b, void *c, void *d, void *, int requested,
                                   Heuristic *results, int *returned) {
    if (requested <= 0) return 7;
    Desc *op = (Desc *)desc;
    Layout *A = (Layout *)a, *B = (Layout *)b, *C = (Layout *)c, *D = (Layout *)d;
    const uint64_t m = op->transa ? A->cols : A->rows, k = op->transa ? A->rows : A->cols;
    const uint64_t kb = op->transb ? B->cols : B->rows, n = op->transb ? B->rows : B->cols;
    if (k != kb || C->rows != m || C->cols != n || D->rows != m || D->cols != n) return 7;
    if (B->batch != A->batch || C->batch != A->batch || D->batch != A->batch) return 7;
    // Up to three candidates (the real library returns up to `requested`), all computing the same product.
    const int count = requested < 3 ? requested : 3;
    memset(results, 0, sizeof(Heuristic) * count);
    // data[1] records the row count the algorithm was chosen for (see ERNIE_EMU_CUBLASLT_EXACT_ALGOS below).
    for (int i = 0; i < count; ++i) {
        results[i].algo.data[0] = (uint64_t)i;
        results[i].algo.data[1] = n;
    }
    *returned = count;
    return 0;
}
}

namespace {
void matmul(const Desc *op, const Layout *A, const Layout *B, const Layout *C, const Layout *D, float al, float be,
            const void *a, const void *b, const void *c, void *d) {
    const uint64_t m = op->transa ? A->cols : A->rows, k = op->transa ? A->rows : A->cols;
    const uint64_t n = op->transb ? B->rows : B->cols;
    if (A->batch > 1) {  // a strided batch: the same product per matrix (element strides from the layouts)
        auto at = [](int type, const void *p, int64_t elements) {
            return (const void *)((const char *)p + elements * (type == 0 ? 4 : 2));
        };
        Layout a1 = *A, b1 = *B, c1 = *C, d1 = *D;
        a1.batch = b1.batch = c1.batch = d1.batch = 1;
        for (int32_t i = 0; i < A->batch; ++i)
            matmul(op, &a1, &b1, &c1, &d1, al, be, at(A->type, a, i * A->stride), at(B->type, b, i * B->stride),
                   at(C->type, c, i * C->stride), (void *)at(D->type, d, i * D->stride));
        return;
    }
    for (uint64_t j = 0; j < n; ++j)
        for (uint64_t i = 0; i < m; ++i) {
            float acc = 0.0f;
            for (uint64_t p = 0; p < k; ++p) {
                const float x = op->transa ? load(A->type, a, p + i * A->ld) : load(A->type, a, i + p * A->ld);
                const float y = op->transb ? load(B->type, b, j + p * B->ld) : load(B->type, b, p + j * B->ld);
                acc += x * y;
            }
            float v = al * acc;
            if (be != 0.0f) v += be * load(C->type, c, i + j * C->ld);
            store(D->type, d, i + j * D->ld, v);
        }
}

// A matmul recorded into a stream capture of the fake libcuda (run when the graph is launched).
struct Deferred {
    Desc op;
    Layout A, B, C, D;
    float alpha, beta;
    const void *a, *b, *c;
    void *d;
};

void run_deferred(void *data) {
    const Deferred *x = (const Deferred *)data;
    matmul(&x->op, &x->A, &x->B, &x->C, &x->D, x->alpha, x->beta, x->a, x->b, x->c, x->d);
}

int (*stream_is_capturing)(void *) = nullptr;
void (*stream_capture_callback)(void *, void (*)(void *), void *) = nullptr;

void resolve_capture() {
    static bool done = false;
    if (done) return;
    done = true;
    void *cuda = dlopen("libcuda.so.1", RTLD_NOLOAD | RTLD_LAZY);
    if (!cuda) return;
    stream_is_capturing = (int (*)(void *))dlsym(cuda, "emu_stream_is_capturing");
    stream_capture_callback = (void (*)(void *, void (*)(void *), void *))dlsym(cuda, "emu_stream_capture_callback");
}
}  // namespace

extern "C" {
int cublasLtMatmul(void *, void *desc, const void *alpha, const void *a, void *aLayout, const void *b, void *bLayout,
                   const void *beta, const void *c, void *cLayout, void *d, void *dLayout, const void *algo,
                   void *workspace, size_t workspaceBytes, void *stream) {
    Desc *op = (Desc *)desc;
    Layout *A = (Layout *)aLayout, *B = (Layout *)bLayout, *C = (Layout *)cLayout, *D = (Layout *)dLayout;
    if (!algo) return 7;
    // ERNIE_EMU_CUBLASLT_EXACT_ALGOS=1: an algorithm only takes the row count it was chosen for (CUBLAS_STATUS_NOT_SUPPORTED
    // otherwise), so a caller's fallback for borrowed algorithms can be tested.
    const char *exact = getenv("ERNIE_EMU_CUBLASLT_EXACT_ALGOS");
    if (exact && exact[0] == '1') {
        const uint64_t chosen = ((const Algo *)algo)->data[1];
        const uint64_t n = op->transb ? B->rows : B->cols;
        if (chosen != 0 && chosen != n) return 15;
    }
    const float al = *(const float *)alpha, be = *(const float *)beta;
    resolve_capture();
    if (stream_is_capturing && stream_capture_callback && stream_is_capturing(stream)) {
        stream_capture_callback(stream, run_deferred, new Deferred{*op, *A, *B, *C, *D, al, be, a, b, c, d});
        return 0;
    }
    matmul(op, A, B, C, D, al, be, a, b, c, d);
    return 0;
}
}
