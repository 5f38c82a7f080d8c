#!/usr/bin/env python3
"""Fails when a crate's top-level modules import each other in a circle.

For every crate of the workspace (and the two bindings), each file under src/ belongs to a
top-level module (src/engine/drive.rs -> engine; src/lib.rs and src/main.rs to none). A `crate::X`
path in a file of module M is an arrow M -> X (X a top-level module, X != M). Test modules
(`tests.rs`, `tests/`, after `#[cfg(test)]`) are left out: tests may reach anywhere. A circle is
printed with the files that make each arrow.

    scripts/import-circles.py        (from the repository root; exit 1 on a circle)
"""
import pathlib
import re
import sys

ROOTS = [
    "canary-core", "canary-swarm", "canary-traefik", "canary-sdk", "canary-cli",
    "canary-dashboard", "bindings/python", "bindings/node",
]
PATH = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
USE_GROUP = re.compile(r"\buse\s+crate::\{([^;]*)\}", re.S)


def top_module(src: pathlib.Path, f: pathlib.Path):
    rel = f.relative_to(src).parts
    if len(rel) == 1:
        name = rel[0][:-3]
        return None if name in ("lib", "main") else name
    return rel[0] if rel[0] != "bin" else None


def code_of(f: pathlib.Path) -> str:
    """The file's code before its tests, without comments (doc links are not imports)."""
    text = f.read_text(encoding="utf-8")
    cut = text.find("#[cfg(test)]")
    text = text if cut < 0 else text[:cut]
    return "\n".join(l.split("//")[0] for l in text.splitlines())


def arrows(src: pathlib.Path):
    mods = {p.stem if p.is_file() else p.name for p in src.iterdir()
            if (p.suffix == ".rs" or p.is_dir()) and p.stem not in ("lib", "main", "bin")}
    edges = {}
    for f in sorted(src.rglob("*.rs")):
        if f.name == "tests.rs" or "tests" in f.relative_to(src).parts[:-1]:
            continue
        m = top_module(src, f)
        if m is None:
            continue
        code = code_of(f)
        names = set(PATH.findall(code))
        for group in USE_GROUP.findall(code):
            names |= {g.strip().split("::")[0].split(" ")[0] for g in group.split(",")}
        for n in names:
            if n in mods and n != m:
                edges.setdefault(m, {}).setdefault(n, set()).add(str(f))
    return edges


def circles(edges):
    found, seen = [], set()

    def walk(node, path):
        for nxt in sorted(edges.get(node, {})):
            if nxt in path:
                cyc = path[path.index(nxt):] + [nxt]
                key = frozenset(cyc)
                if key not in seen:
                    seen.add(key)
                    found.append(cyc)
            elif len(path) < 12:
                walk(nxt, path + [nxt])

    for start in sorted(edges):
        walk(start, [start])
    return found


def main() -> int:
    bad = 0
    for root in ROOTS:
        src = pathlib.Path(root) / "src"
        if not src.is_dir():
            continue
        edges = arrows(src)
        for cyc in circles(edges):
            bad += 1
            print(f"{root}: import circle {' -> '.join(cyc)}")
            for a, b in zip(cyc, cyc[1:]):
                print(f"    {a} -> {b}: {', '.join(sorted(edges[a][b]))}")
    if bad:
        return 1
    print(f"no import circle in {len(ROOTS)} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
