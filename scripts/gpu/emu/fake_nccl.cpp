// A stand-in for libnccl.so.2 for the CPU emulator of the CUDA stack (scripts/gpu/emu): the ranks of a group are
// threads of one process whose "device memory" is host memory, so a collective is a rendezvous of the ranks' threads
// followed by plain loads and stores. Sums run in rank order (every rank gets bitwise the same result). A collective
// queued on a capturing stream is recorded into the capture (through the fake libcuda's capture hook) and runs when
// the graph is launched, as NCCL's captured collectives do; ranks pair their collectives by order, captured or not.
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {
struct Group {
    int nranks = 0;
    int joined = 0;
    // Rendezvous state: per rank, the buffers it brought to the current collective.
    std::vector<const void *> send;
    std::vector<void *> receive;
    std::vector<size_t> counts;
    std::vector<int> types;
    int arrived = 0;
    int leaving = 0;
    unsigned long long generation = 0;
    bool aborted = false;
    std::string error;
    std::mutex lock;
    std::condition_variable changed;
};

struct Comm {
    Group *group;
    int rank;
};

std::mutex registry_lock;
std::map<std::string, Group *> groups;
unsigned long long next_id = 1;

int (*stream_is_capturing)(void *) = nullptr;
void (*stream_capture_callback)(void *, void (*)(void *), void *) = nullptr;

void resolve_capture() {
    static std::once_flag once;
    std::call_once(once, [] {
        const char *path = getenv("ERNIE_CUDA_PATH");
        void *cuda = dlopen(path ? path : "libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
        if (!cuda) return;
        stream_is_capturing = (int (*)(void *))dlsym(cuda, "emu_stream_is_capturing");
        stream_capture_callback =
            (void (*)(void *, void (*)(void *), void *))dlsym(cuda, "emu_stream_capture_callback");
    });
}

float bf16_to_float(uint16_t bits) {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t float_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);  // NaN stays NaN
    u += 0x7fff + ((u >> 16) & 1);  // round to nearest even
    return (uint16_t)(u >> 16);
}

size_t type_size(int type) { return type == 9 || type == 6 ? 2 : (type == 7 || type == 2 || type == 3 ? 4 : 0); }

enum Kind { all_reduce, all_gather };

// Every rank calls this with its buffers; the last to arrive does the work for all, then everybody leaves.
int collective(Comm *comm, Kind kind, const void *send, void *receive, size_t count, int type) {
    Group *g = comm->group;
    std::unique_lock<std::mutex> guard(g->lock);
    // Wait until the previous collective has been left by everyone.
    g->changed.wait(guard, [&] { return g->leaving == 0 || g->aborted; });
    if (g->aborted) return 6;
    g->send[comm->rank] = send;
    g->receive[comm->rank] = receive;
    g->counts[comm->rank] = count;
    g->types[comm->rank] = type;
    g->arrived += 1;
    const unsigned long long mine = g->generation;
    if (g->arrived == g->nranks) {
        for (int r = 0; r < g->nranks; ++r) {
            if (g->counts[r] != count || g->types[r] != type) {
                g->aborted = true;
                g->error = "collectives do not match: rank " + std::to_string(r) + " brought " +
                           std::to_string(g->counts[r]) + " elements of type " + std::to_string(g->types[r]) +
                           ", rank " + std::to_string(comm->rank) + " " + std::to_string(count) + " of type " +
                           std::to_string(type);
                fprintf(stderr, "fake NCCL: %s\n", g->error.c_str());
                g->changed.notify_all();
                return 5;
            }
        }
        const size_t size = type_size(type);
        if (kind == all_reduce) {
            std::vector<float> sums(count, 0.0f);
            for (int r = 0; r < g->nranks; ++r) {
                for (size_t i = 0; i < count; ++i) {
                    float v;
                    if (size == 2) {
                        uint16_t bits;
                        memcpy(&bits, (const char *)g->send[r] + i * 2, 2);
                        v = bf16_to_float(bits);
                    } else {
                        memcpy(&v, (const char *)g->send[r] + i * 4, 4);
                    }
                    sums[i] = r == 0 ? v : sums[i] + v;
                }
            }
            for (int r = 0; r < g->nranks; ++r) {
                for (size_t i = 0; i < count; ++i) {
                    if (size == 2) {
                        uint16_t bits = float_to_bf16(sums[i]);
                        memcpy((char *)g->receive[r] + i * 2, &bits, 2);
                    } else {
                        memcpy((char *)g->receive[r] + i * 4, &sums[i], 4);
                    }
                }
            }
        } else {
            std::vector<char> all(g->nranks * count * size);
            for (int r = 0; r < g->nranks; ++r) memcpy(all.data() + r * count * size, g->send[r], count * size);
            for (int r = 0; r < g->nranks; ++r) memcpy(g->receive[r], all.data(), all.size());
        }
        g->arrived = 0;
        g->leaving = g->nranks - 1;
        g->generation += 1;
        g->changed.notify_all();
        return 0;
    }
    g->changed.wait(guard, [&] { return g->generation != mine || g->aborted; });
    if (g->generation == mine) return 6;
    g->leaving -= 1;
    if (g->leaving == 0) g->changed.notify_all();
    return 0;
}

struct Deferred {
    Comm *comm;
    Kind kind;
    const void *send;
    void *receive;
    size_t count;
    int type;
};

void run_deferred(void *data) {
    auto *d = (Deferred *)data;  // owned by the graph node (graphs are copied, so never freed here)
    int r = collective(d->comm, d->kind, d->send, d->receive, d->count, d->type);
    if (r != 0) fprintf(stderr, "fake NCCL: a captured collective failed (%d)\n", r);
}

int enqueue(Comm *comm, Kind kind, const void *send, void *receive, size_t count, int type, void *stream) {
    if (!comm || type_size(type) == 0) return 4;
    resolve_capture();
    if (stream_is_capturing && stream_capture_callback && stream_is_capturing(stream)) {
        stream_capture_callback(stream, run_deferred, new Deferred{comm, kind, send, receive, count, type});
        return 0;
    }
    return collective(comm, kind, send, receive, count, type);
}
}  // namespace

extern "C" {
int ncclGetVersion(int *version) {
    *version = 22809;
    return 0;
}

int ncclGetUniqueId(char *id) {
    memset(id, 0, 128);
    std::lock_guard<std::mutex> g(registry_lock);
    snprintf(id, 128, "fake-nccl-%llu", next_id++);
    return 0;
}

// ncclUniqueId is passed by value: 128 bytes in memory (the struct is larger than two registers).
struct UniqueId {
    char internal[128];
};

int ncclCommInitRank(Comm **comm, int nranks, UniqueId id, int rank) {
    if (nranks < 1 || rank < 0 || rank >= nranks) return 4;
    std::string key(id.internal, strnlen(id.internal, 128));
    Group *g;
    {
        std::lock_guard<std::mutex> guard(registry_lock);
        auto it = groups.find(key);
        if (it == groups.end()) {
            g = new Group;
            g->nranks = nranks;
            g->send.resize(nranks);
            g->receive.resize(nranks);
            g->counts.resize(nranks);
            g->types.resize(nranks);
            groups[key] = g;
        } else {
            g = it->second;
        }
    }
    std::unique_lock<std::mutex> guard(g->lock);
    if (g->nranks != nranks) return 4;
    g->joined += 1;
    g->changed.notify_all();
    g->changed.wait(guard, [&] { return g->joined >= g->nranks || g->aborted; });
    if (g->aborted) return 6;
    *comm = new Comm{g, rank};
    return 0;
}

int ncclCommDestroy(Comm *comm) {
    delete comm;  // groups stay registered (ids are never reused)
    return 0;
}

int ncclCommAbort(Comm *comm) {
    if (!comm) return 0;
    Group *g = comm->group;
    {
        std::lock_guard<std::mutex> guard(g->lock);
        g->aborted = true;
        if (g->error.empty()) g->error = "aborted";
        g->changed.notify_all();
    }
    delete comm;
    return 0;
}

const char *ncclGetErrorString(int result) {
    switch (result) {
        case 0: return "no error";
        case 4: return "invalid argument";
        case 5: return "invalid usage";
        case 6: return "remote process exited or there was a network error";
        default: return "unhandled error";
    }
}

const char *ncclGetLastError(Comm *comm) {
    if (comm && comm->group->aborted) return comm->group->error.c_str();
    return "";
}

int ncclCommGetAsyncError(Comm *comm, int *error) {
    *error = comm && comm->group->aborted ? 6 : 0;
    return 0;
}

int ncclAllReduce(const void *send, void *receive, size_t count, int type, int op, Comm *comm, void *stream) {
    if (op != 0) return 4;  // only sums are used
    return enqueue(comm, all_reduce, send, receive, count, type, stream);
}

int ncclAllGather(const void *send, void *receive, size_t count, int type, Comm *comm, void *stream) {
    return enqueue(comm, all_gather, send, receive, count, type, stream);
}

int ncclGroupStart() { return 0; }
int ncclGroupEnd() { return 0; }
}
