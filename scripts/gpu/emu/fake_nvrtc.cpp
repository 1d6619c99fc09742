// A stand-in for libnvrtc.so.13 that "compiles" a kernel source with the host C++ compiler into a shared object
// (returned as the CUBIN) that the fake libcuda loads. Kernel names are found in the preprocessed source.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#ifndef EMU_DIR
#error "EMU_DIR must point at scripts/gpu/emu"
#endif

struct Program {
    std::string source, name, log;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<char> binary;
};

static std::string run(const std::string &command, int *status) {
    std::string out;
    FILE *pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) {
        *status = -1;
        return "popen failed";
    }
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    *status = pclose(pipe);
    return out;
}

static bool write_file(const std::string &path, const std::string &text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    return (bool)f;
}

extern "C" {
const char *nvrtcGetErrorString(int result) {
    switch (result) {
        case 0: return "NVRTC_SUCCESS";
        case 6: return "NVRTC_ERROR_COMPILATION";
        default: return "NVRTC_ERROR (emulator)";
    }
}

#ifndef EMU_DEVICE_SUM
#define EMU_DEVICE_SUM 0
#endif

int nvrtcVersion(int *major, int *minor) {
    *major = 99;  // distinct from real NVRTC versions so kernel-cache keys never collide
    // emu_device.h is compiled into every kernel but is no kernel header: its checksum (build.sh) in the version
    // keeps kernels cached with an older emulation from being reused.
    *minor = (int)(EMU_DEVICE_SUM % 1000000007ull);
    return 0;
}

int nvrtcCreateProgram(void **program, const char *source, const char *name, int numHeaders, const char *const *headers,
                       const char *const *includeNames) {
    auto *p = new Program;
    p->source = source;
    p->name = name ? name : "kernel.cu";
    for (int i = 0; i < numHeaders; ++i) p->headers.emplace_back(includeNames[i], headers[i]);
    *program = p;
    return 0;
}

int nvrtcDestroyProgram(void **program) {
    delete static_cast<Program *>(*program);
    *program = nullptr;
    return 0;
}

int nvrtcCompileProgram(void *program, int numOptions, const char *const *options) {
    auto *p = static_cast<Program *>(program);
    char dir_template[] = "/tmp/ernie-emu-XXXXXX";
    const char *dir = mkdtemp(dir_template);
    if (!dir) {
        p->log = "mkdtemp failed";
        return 6;
    }
    std::string d(dir);
    for (auto &h : p->headers) write_file(d + "/" + h.first, h.second);
    write_file(d + "/" + p->name, p->source);
    std::string defines;
    for (int i = 0; i < numOptions; ++i) {
        std::string o = options[i];
        if (o.rfind("-D", 0) == 0) defines += " '" + o + "'";
    }
    const char *cxx = getenv("CXX") ? getenv("CXX") : "g++";
    std::string common = std::string(cxx) + " -std=c++17 -w -DERNIE_EMULATOR=1 -include " EMU_DIR "/emu_device.h -I" +
                         d + defines;
    int status = 0;
    std::string pre = run(common + " -E -P -x c++ " + d + "/" + p->name, &status);
    if (status != 0) {
        p->log = pre;
        return 6;
    }
    std::regex kernel_re(R"(extern\s+"C"\s+__attribute__\s*\(\(\s*used\s*,\s*visibility\s*\(\s*"default"\s*\)\s*\)\)\s+void\s+(\w+)\s*\()");
    std::string launcher = "#include \"" + p->name + "\"\n";
    for (auto it = std::sregex_iterator(pre.begin(), pre.end(), kernel_re); it != std::sregex_iterator(); ++it) {
        const std::string k = (*it)[1];
        launcher += "extern \"C\" __attribute__((visibility(\"default\"))) void emu_launch_" + k +
                    "(const emu_launch_dims *d, void **p) { emu::launch(" + k + ", d, p); }\n";
        launcher += "extern \"C\" __attribute__((visibility(\"default\"))) int emu_arity_" + k +
                    "() { return emu::arity(" + k + "); }\n";
    }
    write_file(d + "/launcher.cpp", launcher);
    const char *opt = getenv("ERNIE_EMU_OPT") ? getenv("ERNIE_EMU_OPT") : "-O2";
    std::string out = run(common + " " + opt + " -g -fPIC -shared -x c++ " + d + "/launcher.cpp -o " + d + "/module.so",
                          &status);
    p->log = out;
    if (status != 0) return 6;
    std::ifstream f(d + "/module.so", std::ios::binary);
    p->binary.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    run("rm -rf " + d, &status);
    return p->binary.empty() ? 6 : 0;
}

int nvrtcGetProgramLogSize(void *program, size_t *size) {
    *size = static_cast<Program *>(program)->log.size() + 1;
    return 0;
}

int nvrtcGetProgramLog(void *program, char *log) {
    auto *p = static_cast<Program *>(program);
    std::memcpy(log, p->log.c_str(), p->log.size() + 1);
    return 0;
}

int nvrtcGetCUBINSize(void *program, size_t *size) {
    *size = static_cast<Program *>(program)->binary.size();
    return 0;
}

int nvrtcGetCUBIN(void *program, char *cubin) {
    auto *p = static_cast<Program *>(program);
    std::memcpy(cubin, p->binary.data(), p->binary.size());
    return 0;
}
}
