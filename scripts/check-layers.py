#!/usr/bin/env python3
"""No include runs upward: core < codec < subsystems < service < programs.

A file's layer is its folder: src/<layer>/, or a program folder (broker, workers, cli, bench,
tests, plugins) above all of them. A public header's layer is the `Layer: <name>` line of its
opening comment. Every quoted or angled include of a project header ("core/x.h",
"actorcore/x.h", <actorcore/x.h>) is looked up and must be of the including file's layer or
below. Public headers may include only public headers. Prints one line per file checked and
each violation; exits 1 when there is any.

Usage: check-layers.py [project-root]
"""
import os
import re
import sys

LAYERS = ["core", "codec", "subsystems", "service", "program"]
RANK = {name: i for i, name in enumerate(LAYERS)}
PROGRAMS = ["broker", "workers", "cli", "bench", "tests", "plugins"]
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
LAYER_LINE = re.compile(r"^\s*Layer:\s*([a-z]+)\b")


def header_layer(path):
    """The layer a public header declares in its first lines, or None."""
    with open(path, encoding="utf-8") as f:
        for _, line in zip(range(12), f):
            m = LAYER_LINE.match(line)
            if m:
                return m.group(1)
    return None


def source_files(root):
    """(path, layer) for every C source or header of the project, public headers included."""
    for layer in LAYERS[:-1]:
        folder = os.path.join(root, "src", layer)
        for name in sorted(os.listdir(folder)):
            if name.endswith((".c", ".h")):
                yield os.path.join(folder, name), layer
    pub = os.path.join(root, "include", "actorcore")
    for name in sorted(os.listdir(pub)):
        if name.endswith(".h"):
            yield os.path.join(pub, name), header_layer(os.path.join(pub, name))
    for prog in PROGRAMS:
        for dirpath, _, names in os.walk(os.path.join(root, prog)):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    yield os.path.join(dirpath, name), "program"


def target_layer(root, spec):
    """The layer of an included project header, 'other' for a local or system header."""
    head, _, tail = spec.partition("/")
    if head == "actorcore" and tail:
        path = os.path.join(root, "include", spec)
        if not os.path.exists(path):
            return None, "public header %s does not exist" % spec
        layer = header_layer(path)
        if layer not in RANK:
            return None, "public header %s declares no Layer: line" % spec
        return layer, None
    if head in RANK and tail:
        if not os.path.exists(os.path.join(root, "src", spec)):
            return None, "private header src/%s does not exist" % spec
        return head, None
    return "other", None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    bad = 0
    checked = 0
    for path, layer in source_files(root):
        rel = os.path.relpath(path, root)
        if layer not in RANK:
            print("FAIL %s: no 'Layer: <%s>' line in its opening comment" % (rel, "|".join(LAYERS[:-1])))
            bad += 1
            continue
        public = rel.startswith("include" + os.sep)
        checked += 1
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                spec = m.group(2)
                to, problem = target_layer(root, spec)
                if problem:
                    print("FAIL %s:%d: %s" % (rel, lineno, problem))
                    bad += 1
                elif to == "other":
                    if m.group(1) == '"' and public:
                        print("FAIL %s:%d: public header includes non-public \"%s\"" % (rel, lineno, spec))
                        bad += 1
                    continue
                elif public and not spec.startswith("actorcore/"):
                    print("FAIL %s:%d: public header includes private %s" % (rel, lineno, spec))
                    bad += 1
                elif RANK[to] > RANK[layer]:
                    print("FAIL %s:%d: %s (layer %s) includes %s (layer %s): the include runs upward"
                          % (rel, lineno, rel, layer, spec, to))
                    bad += 1
    print("check-layers: %d files checked, %d upward or unknown includes (%s)"
          % (checked, bad, " < ".join(LAYERS)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
