#!/usr/bin/env python3
"""Prints the path of libnvrtc.so.13 from the pip wheel `nvidia-cuda-nvrtc` (nvidia/cu13/lib), for ERNIE_NVRTC_PATH.

Exits 1 (printing nothing) when the wheel is not installed. Used by scripts/test so the kernel-compilation tests run
on machines without a GPU or a CUDA toolkit.
"""
import os
import site
import sys


def candidates():
    dirs = []
    try:
        import nvidia  # namespace package of NVIDIA's wheels

        dirs += [os.path.join(p, "cu13", "lib") for p in getattr(nvidia, "__path__", [])]
    except ImportError:
        pass
    roots = list(site.getsitepackages()) + [site.getusersitepackages()]
    dirs += [os.path.join(r, "nvidia", "cu13", "lib") for r in roots]
    return dirs


def main():
    for d in candidates():
        path = os.path.join(d, "libnvrtc.so.13")
        if os.path.isfile(path):
            print(path)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
