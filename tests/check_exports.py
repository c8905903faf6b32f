#!/usr/bin/env python3
"""Only the API is exported: the dynamic symbols a shared library defines are exactly the
functions its public headers declare.

Usage: check_exports.py INCLUDE_DIR LIBRARY.so [LAYER ...]

The functions come from the declarations in INCLUDE_DIR/actorcore/*.h whose opening comment
says `Layer: L` for one of the LAYERs (default: core codec subsystems, what libactorcore
holds; the service headers belong to the static libactorcore_service). Comments, macros,
typedefs (function pointer types) and static inline helpers are not declarations of the
library. The defined dynamic symbols come from `nm -D --defined-only`. Any name on one side
only is printed and the check fails: a leaked internal symbol, or a public function missing.
"""
import pathlib
import re
import subprocess
import sys


def header_functions(include_dir, layers):
    names = {}
    for h in sorted(pathlib.Path(include_dir, "actorcore").glob("*.h")):
        text = h.read_text()
        m = re.search(r"Layer:\s*(\w+)", text)
        if not m or m.group(1) not in layers:
            continue
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        text = re.sub(r"^#ifdef __cplusplus\n.*?^#endif\n", " ", text, flags=re.S | re.M)
        text = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
        depth = 0
        stmt = ""
        for ch in text:  # top-level statements only (not struct bodies)
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    stmt = ""
            elif depth == 0:
                if ch == ";":
                    s = " ".join(stmt.split())
                    stmt = ""
                    if s.startswith(("typedef", "static", "extern \"C\"")):
                        continue
                    f = re.match(r"[^()]*?\b([A-Za-z_]\w*)\s*\(", s)
                    if f:
                        names[f.group(1)] = h.name
                else:
                    stmt += ch
    return names


def library_symbols(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TtWiDdBbRrVv":
            name = parts[2].split("@")[0]
            if name.startswith("_") and name in ("_init", "_fini", "_edata", "_end", "__bss_start"):
                continue
            syms[name] = parts[1]
    return syms


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    include_dir, lib = sys.argv[1], sys.argv[2]
    layers = set(sys.argv[3:]) or {"core", "codec", "subsystems"}
    declared = header_functions(include_dir, layers)
    exported = library_symbols(lib)
    extra = sorted(set(exported) - set(declared))
    missing = sorted(set(declared) - set(exported))
    for name in extra:
        print(f"exported but not declared in a public header: {name} ({exported[name]})")
    for name in missing:
        print(f"declared in {declared[name]} but not exported: {name}")
    print(f"{lib}: {len(exported)} exported, {len(declared)} declared, "
          f"{len(extra)} extra, {len(missing)} missing")
    sys.exit(1 if extra or missing else 0)


if __name__ == "__main__":
    main()
