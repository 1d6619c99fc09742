#!/usr/bin/env python3
"""Compiles ErnieCUDA's kernel sources with the real NVRTC (pip wheel `nvidia-cuda-nvrtc`, no GPU needed) for sm_90a
with the backend's options plus `-Xptxas -v`, and prints ptxas' resource report per kernel: registers, spills, stack,
shared memory. Exits 1 when a source fails to compile or a kernel spills.

    python3 scripts/gpu/nvrtc_check.py [file.cu ...]      (default: every .cu in Sources/ErnieCUDA/Kernels)
"""
import ctypes
import glob
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
KERNELS = os.path.join(HERE, "..", "..", "Sources", "ErnieCUDA", "Kernels")


def load_nvrtc():
    path = os.environ.get("ERNIE_NVRTC_PATH")
    if not path:
        path = subprocess.run([sys.executable, os.path.join(HERE, "..", "find_nvrtc.py")], capture_output=True,
                              text=True).stdout.strip()
    if not path:
        sys.exit("no NVRTC found (pip install nvidia-cuda-nvrtc, or set ERNIE_NVRTC_PATH)")
    builtins = glob.glob(os.path.join(os.path.dirname(path), "libnvrtc-builtins.so.*"))
    for b in builtins:
        ctypes.CDLL(b, mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(path)


def compile_source(nvrtc, name, text, headers):
    prog = ctypes.c_void_p()
    hdr_src = (ctypes.c_char_p * len(headers))(*[h[1].encode() for h in headers])
    hdr_names = (ctypes.c_char_p * len(headers))(*[h[0].encode() for h in headers])
    r = nvrtc.nvrtcCreateProgram(ctypes.byref(prog), text.encode(), name.encode(), len(headers), hdr_src, hdr_names)
    assert r == 0, r
    opts = [b"--gpu-architecture=sm_90a", b"--std=c++17", b"-lineinfo", b"-DERNIE_KERNELS=1", b"-Xptxas", b"-v"]
    arr = (ctypes.c_char_p * len(opts))(*opts)
    result = nvrtc.nvrtcCompileProgram(prog, len(opts), arr)
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(prog, log)
    cubin = ctypes.c_size_t()
    if result == 0:
        nvrtc.nvrtcGetCUBINSize(prog, ctypes.byref(cubin))
    nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))
    return result, log.value.decode(errors="replace"), cubin.value


def main():
    nvrtc = load_nvrtc()
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(KERNELS, "*.cu")))
    headers = [(os.path.basename(p), open(p).read()) for p in sorted(glob.glob(os.path.join(KERNELS, "*.cuh")))]
    bad = False
    for path in files:
        name = os.path.basename(path)
        result, log, size = compile_source(nvrtc, name, open(path).read(), headers)
        if result != 0:
            print(f"FAIL {name}\n{log}")
            bad = True
            continue
        print(f"OK   {name}  ({size} bytes)")
        kernel = None
        for line in log.splitlines():
            m = re.search(r"Compiling entry function '(\w+)'", line)
            if m:
                kernel = m.group(1)
            m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
            if m and kernel:
                stack, stores, loads = map(int, m.groups())
                if stores or loads:
                    print(f"     SPILL {kernel}: stack {stack} stores {stores} loads {loads}")
                    bad = True
            m = re.search(r"Used (\d+) registers(.*)", line)
            if m and kernel:
                print(f"     {kernel:44s} regs {m.group(1):>3s}{m.group(2)}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
