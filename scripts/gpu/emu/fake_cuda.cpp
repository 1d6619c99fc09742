// A stand-in for libcuda.so.1 that runs ErnieCUDA on the CPU: device memory is host memory (each allocation ends
// just before a PROT_NONE guard page, so overruns fault), copies are memcpy, "CUBINs" are shared objects built by the
// fake NVRTC, launches run the emulated kernel synchronously. Reports an H200-like device.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

// Must match emu_launch_dims in emu_device.h.
struct emu_launch_dims {
    unsigned grid[3];
    unsigned block[3];
    unsigned shared_bytes;
    const char *name;
};

typedef void (*emu_launcher)(const emu_launch_dims *, void **);

namespace {
struct Allocation {
    void *map;
    size_t map_bytes;
    size_t bytes;
};
std::mutex lock;
std::map<uintptr_t, Allocation> allocations;
size_t allocated = 0;
const size_t total_memory = 64ull << 30;
const size_t page = 4096;

struct Module {
    void *handle;
    std::string path;
};
struct Function {
    emu_launcher launcher;
    std::string name;
    int arity;
};

// One recorded operation of a stream capture / graph: a kernel launch (parameter values copied, 8 bytes each) or a
// host callback (the fake cuBLASLt's matmuls).
struct Node {
    Function *function = nullptr;
    emu_launch_dims dims{};
    std::vector<uint64_t> values;
    void (*callback)(void *) = nullptr;
    void *data = nullptr;
};
struct Stream {
    bool capturing = false;
    std::vector<Node> nodes;
};
struct Graph {
    std::vector<Node> nodes;
};
int pdl_launches = 0;
struct Event {
    std::chrono::steady_clock::time_point time;
};

int getenv_int(const char *name, int fallback) {
    const char *v = getenv(name);
    return v ? atoi(v) : fallback;
}
}  // namespace

extern "C" {
int cuInit(unsigned) { return 0; }
int cuDriverGetVersion(int *v) {
    *v = 13000;
    return 0;
}
int cuGetErrorName(int e, const char **s) {
    switch (e) {
        case 0: *s = "CUDA_SUCCESS"; break;
        case 1: *s = "CUDA_ERROR_INVALID_VALUE"; break;
        case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
        case 200: *s = "CUDA_ERROR_INVALID_IMAGE"; break;
        case 500: *s = "CUDA_ERROR_NOT_FOUND"; break;
        default: *s = "CUDA_ERROR_EMULATOR"; break;
    }
    return 0;
}
int cuGetErrorString(int e, const char **s) { return cuGetErrorName(e, s); }
// ERNIE_EMU_DEVICES (default 1) devices, all sharing the host's memory (tensor-parallel tests).
int cuDeviceGetCount(int *c) {
    *c = getenv_int("ERNIE_EMU_DEVICES", 1);
    return 0;
}
int cuDeviceGet(int *d, int ordinal) {
    if (ordinal < 0 || ordinal >= getenv_int("ERNIE_EMU_DEVICES", 1)) return 101;
    *d = ordinal;
    return 0;
}
int cuDeviceGetName(char *name, int len, int) {
    snprintf(name, len, "ErnieCUDA CPU emulator");
    return 0;
}
int cuDeviceGetAttribute(int *v, int attribute, int) {
    switch (attribute) {
        case 1: *v = 1024; break;
        case 13: *v = 1980000; break;
        case 16: *v = getenv_int("ERNIE_EMU_SMS", 132); break;
        case 36: *v = 3201000; break;
        case 37: *v = 6016; break;
        case 38: *v = 62914560; break;
        case 75: *v = 9; break;
        case 76: *v = 0; break;
        case 97: *v = 232448; break;
        default: return 1;
    }
    return 0;
}
int cuDeviceTotalMem_v2(size_t *bytes, int) {
    *bytes = total_memory;
    return 0;
}
int cuDevicePrimaryCtxRetain(void **ctx, int device) {
    static int contexts[64];
    *ctx = &contexts[device & 63];
    return 0;
}
int cuDevicePrimaryCtxRelease_v2(int) { return 0; }
int cuCtxSetCurrent(void *) { return 0; }
int cuCtxSynchronize() { return 0; }
int cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    std::lock_guard<std::mutex> g(lock);
    *total = total_memory;
    *free_bytes = total_memory - allocated;
    return 0;
}
int cuMemAlloc_v2(unsigned long long *pointer, size_t bytes) {
    std::lock_guard<std::mutex> g(lock);
    if (bytes == 0) return 1;
    if (allocated + bytes > total_memory) return 2;
    const size_t data_pages = (bytes + page - 1) / page;
    const size_t map_bytes = (data_pages + 1) * page;
    void *map = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) return 2;
    char *guard = (char *)map + data_pages * page;
    mprotect(guard, page, PROT_NONE);
    uintptr_t start = ((uintptr_t)guard - bytes) & ~(uintptr_t)255;
    memset((void *)start, 0xA5, (uintptr_t)guard - start);  // garbage, like fresh device memory
    allocations[start] = Allocation{map, map_bytes, bytes};
    allocated += bytes;
    *pointer = start;
    return 0;
}
int cuMemFree_v2(unsigned long long pointer) {
    std::lock_guard<std::mutex> g(lock);
    auto it = allocations.find((uintptr_t)pointer);
    if (it == allocations.end()) return 1;
    munmap(it->second.map, it->second.map_bytes);
    allocated -= it->second.bytes;
    allocations.erase(it);
    return 0;
}
int cuMemAllocHost_v2(void **pointer, size_t bytes) {
    *pointer = aligned_alloc(256, (bytes + 255) / 256 * 256);
    return *pointer ? 0 : 2;
}
int cuMemFreeHost(void *pointer) {
    free(pointer);
    return 0;
}
int cuMemcpyHtoDAsync_v2(unsigned long long d, const void *s, size_t n, void *) {
    memcpy((void *)d, s, n);
    return 0;
}
int cuMemcpyDtoHAsync_v2(void *d, unsigned long long s, size_t n, void *) {
    memcpy(d, (const void *)s, n);
    return 0;
}
int cuMemcpyDtoDAsync_v2(unsigned long long d, unsigned long long s, size_t n, void *) {
    memmove((void *)d, (const void *)s, n);
    return 0;
}
// CUDA_MEMCPY2D as laid out by cuda.h (128 bytes).
struct Memcpy2D {
    size_t srcXInBytes, srcY;
    int srcMemoryType;
    const void *srcHost;
    unsigned long long srcDevice;
    void *srcArray;
    size_t srcPitch;
    size_t dstXInBytes, dstY;
    int dstMemoryType;
    void *dstHost;
    unsigned long long dstDevice;
    void *dstArray;
    size_t dstPitch;
    size_t WidthInBytes, Height;
};
static void run_copy2d(void *data) {
    const Memcpy2D *c = (const Memcpy2D *)data;
    const char *src = (c->srcMemoryType == 2 ? (const char *)c->srcDevice : (const char *)c->srcHost) +
                      c->srcY * c->srcPitch + c->srcXInBytes;
    char *dst = (c->dstMemoryType == 2 ? (char *)c->dstDevice : (char *)c->dstHost) + c->dstY * c->dstPitch +
                c->dstXInBytes;
    for (size_t row = 0; row < c->Height; ++row)
        memmove(dst + row * c->dstPitch, src + row * c->srcPitch, c->WidthInBytes);
}
__attribute__((visibility("default"))) void emu_stream_capture_callback(void *stream, void (*fn)(void *), void *data);
__attribute__((visibility("default"))) int emu_stream_is_capturing(void *stream);
int cuMemcpy2DAsync_v2(const Memcpy2D *copy, void *stream) {
    if (copy->WidthInBytes > copy->srcPitch || copy->WidthInBytes > copy->dstPitch) return 1;
    if (emu_stream_is_capturing(stream)) {
        emu_stream_capture_callback(stream, run_copy2d, new Memcpy2D(*copy));
        return 0;
    }
    run_copy2d((void *)copy);
    return 0;
}
int cuMemsetD8Async(unsigned long long d, unsigned char v, size_t n, void *) {
    memset((void *)d, v, n);
    return 0;
}
int cuMemsetD32Async(unsigned long long d, unsigned v, size_t n, void *) {
    for (size_t i = 0; i < n; ++i) ((unsigned *)d)[i] = v;
    return 0;
}
int cuStreamCreate(void **stream, unsigned) {
    *stream = new Stream;
    return 0;
}
int cuStreamDestroy_v2(void *stream) {
    delete (Stream *)stream;
    return 0;
}
int cuStreamSynchronize(void *stream) {
    // Synchronising a capturing stream invalidates the capture in CUDA (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED).
    return stream && ((Stream *)stream)->capturing ? 900 : 0;
}
int cuStreamBeginCapture_v2(void *stream, int) {
    Stream *s = (Stream *)stream;
    if (s->capturing) return 1;
    s->capturing = true;
    s->nodes.clear();
    return 0;
}
int cuStreamEndCapture(void *stream, void **graph) {
    Stream *s = (Stream *)stream;
    if (!s->capturing) return 1;
    s->capturing = false;
    *graph = new Graph{std::move(s->nodes)};
    s->nodes.clear();
    return 0;
}
int cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long) {
    *exec = new Graph(*(Graph *)graph);
    return 0;
}
int cuGraphDestroy(void *graph) {
    delete (Graph *)graph;
    return 0;
}
int cuGraphExecDestroy(void *exec) {
    delete (Graph *)exec;
    return 0;
}
int cuGraphUpload(void *, void *) { return 0; }
static int run_node(const Node &n);
int cuGraphLaunch(void *exec, void *stream) {
    if (stream && ((Stream *)stream)->capturing) return 1;
    for (const Node &n : ((Graph *)exec)->nodes) {
        int r = run_node(n);
        if (r != 0) return r;
    }
    return 0;
}
// For the fake cuBLASLt: whether `stream` is capturing, and recording a host callback into its capture.
__attribute__((visibility("default"))) int emu_stream_is_capturing(void *stream) {
    return stream && ((Stream *)stream)->capturing ? 1 : 0;
}
__attribute__((visibility("default"))) void emu_stream_capture_callback(void *stream, void (*fn)(void *), void *data) {
    Node n;
    n.callback = fn;
    n.data = data;
    ((Stream *)stream)->nodes.push_back(n);
}
__attribute__((visibility("default"))) int emu_pdl_launches() { return pdl_launches; }
int cuEventCreate(void **event, unsigned) {
    *event = new Event;
    return 0;
}
int cuEventDestroy_v2(void *event) {
    delete (Event *)event;
    return 0;
}
int cuEventRecord(void *event, void *) {
    ((Event *)event)->time = std::chrono::steady_clock::now();
    return 0;
}
int cuEventSynchronize(void *) { return 0; }
// Launches run when issued, so every stream is always caught up with every event.
int cuStreamWaitEvent(void *, void *, unsigned) { return 0; }
int cuEventElapsedTime_v2(float *ms, void *start, void *end) {
    *ms = std::chrono::duration<float, std::milli>(((Event *)end)->time - ((Event *)start)->time).count();
    return 0;
}
int cuModuleLoadData(void **module, const void *image) {
    // The image is a shared object; its size is not passed, so read the ELF section header table end.
    const unsigned char *p = (const unsigned char *)image;
    if (memcmp(p, "\x7f" "ELF", 4) != 0) return 200;
    uint64_t shoff;
    uint16_t shentsize, shnum;
    memcpy(&shoff, p + 0x28, 8);
    memcpy(&shentsize, p + 0x3A, 2);
    memcpy(&shnum, p + 0x3C, 2);
    const size_t size = shoff + (size_t)shentsize * shnum;
    char path[] = "/tmp/ernie-emu-module-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    if (write(fd, image, size) != (ssize_t)size) {
        close(fd);
        return 1;
    }
    close(fd);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    unlink(path);
    if (!handle) {
        fprintf(stderr, "fake cuModuleLoadData: %s\n", dlerror());
        return 200;
    }
    *module = new Module{handle, path};
    return 0;
}
int cuModuleUnload(void *module) {
    delete (Module *)module;  // the shared object stays mapped (functions may still be referenced)
    return 0;
}
int cuModuleGetFunction(void **function, void *module, const char *name) {
    std::string symbol = std::string("emu_launch_") + name;
    void *f = dlsym(((Module *)module)->handle, symbol.c_str());
    if (!f) return 500;
    std::string arity_symbol = std::string("emu_arity_") + name;
    auto arity = (int (*)())dlsym(((Module *)module)->handle, arity_symbol.c_str());
    *function = new Function{(emu_launcher)f, name, arity ? arity() : -1};
    return 0;
}
int cuFuncSetAttribute(void *, int, int) { return 0; }
int cuFuncGetAttribute(int *v, int, void *) {
    *v = 0;
    return 0;
}
static int run_node(const Node &n) {
    if (n.callback) {
        n.callback(n.data);
        return 0;
    }
    std::vector<void *> params(n.values.size());
    for (size_t i = 0; i < params.size(); ++i) params[i] = (void *)&n.values[i];
    emu_launch_dims d = n.dims;
    d.name = n.function->name.c_str();
    // One kernel at a time in the whole process: the emulated device state of a module is not thread-safe.
    static std::mutex launch_lock;
    std::lock_guard<std::mutex> g(launch_lock);
    n.function->launcher(&d, params.data());
    return 0;
}
int cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned shared_bytes, void *stream, void **params, void **) {
    auto *f = (Function *)function;
    if (gx == 0 || gy == 0 || gz == 0 || bx * by * bz == 0 || bx * by * bz > 1024 || gy > 65535 || gz > 65535)
        return 1;
    if (shared_bytes > 232448) return 1;
    if (f->arity < 0) return 1;
    Node n;
    n.function = f;
    n.dims = emu_launch_dims{{gx, gy, gz}, {bx, by, bz}, shared_bytes, nullptr};
    n.values.resize(f->arity);
    for (int i = 0; i < f->arity; ++i) memcpy(&n.values[i], params[i], 8);  // every argument sits in an 8-byte slot
    Stream *s = (Stream *)stream;
    if (s && s->capturing) {
        s->nodes.push_back(std::move(n));
        return 0;
    }
    return run_node(n);
}
// CUlaunchConfig / CUlaunchAttribute as laid out by CUDA 13 (56 and 72 bytes).
struct LaunchAttribute {
    int id;
    char pad[4];
    unsigned char value[64];
};
struct LaunchConfig {
    unsigned gx, gy, gz, bx, by, bz, shared;
    void *stream;
    LaunchAttribute *attrs;
    unsigned num_attrs;
};
int cuLaunchKernelEx(const LaunchConfig *c, void *function, void **params, void **extra) {
    for (unsigned i = 0; i < c->num_attrs; ++i) {
        if (c->attrs[i].id != 6) return 1;  // only programmatic stream serialisation is used
        int allowed;
        memcpy(&allowed, c->attrs[i].value, 4);
        if (allowed == 1) ++pdl_launches;
    }
    return cuLaunchKernel(function, c->gx, c->gy, c->gz, c->bx, c->by, c->bz, c->shared, c->stream, params, extra);
}
}
