#!/usr/bin/python3
"""Keeps the layers of core/ and fs/ as their folders say (README.md,
"Source tree"): a file may use its own folder's files and those of the
layers below, never one above, and no files may use each other in a
circle. "Use" is read twice, from what the build made and from the
sources: each object's undefined symbols against the objects that define
them (nm), and each #include "..." against the header it names. Also:
no source file over 700 lines and no function over 60.

    scripts/check-layers.py [BUILD_DIR]     (default: build)

Prints one line per finding and "layers: N files, M uses, ok" or
"layers: K findings"; exits 1 on a finding, 2 when it cannot read the
build. Run by scripts/test.sh after the build.
"""
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

# Lowest first. A file belongs to the longest folder prefix listed here;
# a file may use any layer at its own index or below.
LAYERS = [
    "core/base/",
    "core/crypto/",
    "core/format/",
    "core/rules/",
    "core/disk/",
    "core/model/",
    "core/",
    "fs/common/",
    "fs/model/",
    "fs/mount/",
    "fs/cli/",
]
MAX_FILE_LINES = 700
MAX_FUNCTION_LINES = 60
ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))


def layer_of(path):
    best = None
    for i, prefix in enumerate(LAYERS):
        if path.startswith(prefix) and (best is None or len(prefix) > len(LAYERS[best])):
            best = i
    return best


def module_of(path):
    """core/base/alloc.c and core/base/alloc.h are one module."""
    return os.path.splitext(path)[0]


def sources(build):
    """{object file: source path relative to the root} for core/ and fs/."""
    try:
        commands = json.load(open(os.path.join(build, "compile_commands.json")))
    except OSError as e:
        sys.exit(f"check-layers: cannot read {build}/compile_commands.json ({e.strerror}): "
                 "build first (meson setup build && ninja -C build)")
    out = {}
    for c in commands:
        src = os.path.relpath(os.path.realpath(os.path.join(c["directory"], c["file"])), ROOT)
        if src.startswith(("core/", "fs/")):
            out[os.path.join(c["directory"], c["output"])] = src
    return out


def symbols(obj):
    """(defined, undefined) global symbol names of one object."""
    r = subprocess.run(["nm", "-g", obj], capture_output=True, text=True, check=True)
    defined, undefined = set(), set()
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRCVW":
            defined.add(parts[2])
    return defined, undefined


def call_edges(objects):
    """{(user module, used module): [names]} from the objects' symbols."""
    owner, wants = {}, {}
    for obj, src in objects.items():
        defined, undefined = symbols(obj)
        for name in defined:
            owner[name] = module_of(src)
        wants[module_of(src)] = undefined
    edges = defaultdict(list)
    for user, names in wants.items():
        for name in sorted(names):
            used = owner.get(name)
            if used and used != user:
                edges[(user, used)].append(name)
    return edges


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def source_files():
    for top in ("core", "fs"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, f), ROOT)


def include_edges(files):
    """{(includer module, included module): [header]} for quoted includes
    that name a header of core/ or fs/ (resolved beside the file, then by
    its name anywhere in the tree, as the build's include folders do)."""
    by_name = defaultdict(list)
    for f in files:
        by_name[os.path.basename(f)].append(f)
    edges = defaultdict(list)
    for f in files:
        text = open(os.path.join(ROOT, f), encoding="utf-8", errors="replace").read()
        for header in INCLUDE.findall(text):
            beside = os.path.normpath(os.path.join(os.path.dirname(f), header))
            target = beside if beside in files else None
            if target is None:
                found = by_name.get(os.path.basename(header), [])
                target = found[0] if len(found) == 1 else None
            if target and module_of(target) != module_of(f):
                edges[(module_of(f), module_of(target))].append(os.path.basename(header))
    return edges


def circles(nodes, edges):
    """Strongly connected sets of two or more modules (Tarjan)."""
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


FUNCTION_START = re.compile(r"^[A-Za-z_][^;()]*\([^;]*\)\s*$")


def long_functions(path):
    """(name line, length) of each function over the limit: a definition is
    a line at column 0 that is not a statement, then '{' at column 0, up to
    the next '}' at column 0 (the layout every file here has)."""
    lines = open(os.path.join(ROOT, path), encoding="utf-8", errors="replace").read().split("\n")
    out = []
    start = None
    for i, line in enumerate(lines):
        if line == "{" and i > 0:
            start = i
            head = i - 1
            while head > 0 and not FUNCTION_START.match(lines[head]) and lines[head].startswith(" "):
                head -= 1
        elif line.startswith("}") and start is not None:
            length = i - start + 1
            if length > MAX_FUNCTION_LINES:
                name = re.search(r"([A-Za-z_]\w*)\s*\(", lines[head])
                out.append((name.group(1) if name else lines[head].strip(), head + 1, length))
            start = None
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    objects = sources(build)
    files = set(source_files())
    findings = []
    for f in sorted(files):
        if layer_of(f) is None:
            findings.append(f"{f}: in no layer (add its folder to LAYERS)")
    edges = call_edges(objects)
    for (a, b), names in include_edges(files).items():
        edges.setdefault((a, b), []).extend(f"#include {n}" for n in names)
    for (a, b), names in sorted(edges.items()):
        la, lb = layer_of(a + ".c"), layer_of(b + ".c")
        if la is not None and lb is not None and lb > la:
            findings.append(f"{a} uses {b}, a higher layer ({LAYERS[lb]} over {LAYERS[la]}): "
                            + ", ".join(sorted(set(names))[:6]))
    modules = {module_of(f) for f in files}
    for group in circles(modules, edges):
        ties = [f"{a} -> {b} ({', '.join(sorted(set(edges[(a, b)]))[:3])})"
                for a in group for b in group if (a, b) in edges]
        findings.append("a circle: " + "; ".join(ties))
    for f in sorted(files):
        n = open(os.path.join(ROOT, f), encoding="utf-8", errors="replace").read().count("\n")
        if n > MAX_FILE_LINES:
            findings.append(f"{f}: {n} lines (at most {MAX_FILE_LINES})")
        if f.endswith(".c"):
            for name, line, length in long_functions(f):
                findings.append(f"{f}:{line}: {name} is {length} lines (at most "
                                f"{MAX_FUNCTION_LINES})")
    for line in findings:
        print(f"check-layers: {line}")
    if findings:
        print(f"layers: {len(findings)} finding{'s' if len(findings) != 1 else ''}")
        return 1
    print(f"layers: {len(files)} files, {len(edges)} uses, ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
