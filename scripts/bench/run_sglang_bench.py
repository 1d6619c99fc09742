#!/usr/bin/env python3
"""Runs a copy of SGLang's standalone `bench_serving.py` (late-2025 layout, e.g. from the sglang 0.5.7 wheel) with the
given arguments, offline.

SGLang's script imports `datasets` and `pybase64` at the top but uses them only for the image/MMMU datasets; when they
are not installed, empty stand-in modules are registered so the text datasets run with aiohttp, numpy, requests, tqdm,
pillow and transformers. (Pillow cannot be stood in for: transformers probes it.) Hugging Face hub access is switched off (HF_HUB_OFFLINE=1), so nothing is downloaded.

Usage: run_sglang_bench.py /path/to/copy/of/bench_serving.py [bench_serving arguments...]
"""
import importlib.util
import os
import runpy
import sys
import types

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def stub(name, **attributes):
    if importlib.util.find_spec(name) is not None:
        return
    module = types.ModuleType(name)
    for key, value in attributes.items():
        setattr(module, key, value)
    sys.modules[name] = module


def unavailable(*_args, **_kwargs):
    raise RuntimeError("this dataset needs the real package (pip install datasets pybase64)")


stub("datasets", load_dataset=unavailable)
stub("pybase64", b64encode=unavailable)
if importlib.util.find_spec("PIL") is None:
    sys.exit("SGLang's bench_serving.py needs pillow: pip install pillow")

if len(sys.argv) < 2 or not os.path.isfile(sys.argv[1]):
    sys.exit("usage: run_sglang_bench.py /path/to/bench_serving.py [arguments...]")
script = sys.argv[1]
sys.argv = [script] + sys.argv[2:]
runpy.run_path(script, run_name="__main__")
