"""The layer rules of docs/ARCHITECTURE.md, checked on the source: lower layers never import higher ones, no
import cycle between packages, no private name used across modules, long files say why they are long.

Imports are read with `ast` from every module, including imports inside functions (a lazy upward import is
still an upward dependency)."""
import ast
import re
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "tonecraft"

# Top-level part of the package -> layer, bottom up. A module may import its own layer or lower ones.
LAYERS = {
    "__init__": 0, "errors": 0, "cpu_features": 0,
    "audio": 1, "fileio": 1, "safe_load": 1, "hub": 1, "riff": 1, "vorbis_comments": 1,
    "codec": 2, "lm": 2, "provenance": 2,
    "conditioning": 3,
    "pretrained": 4,
    "models": 5, "compressed": 5,
    "data": 6, "train": 7, "eval": 8,
    "cli": 9, "serve": 9,
}
# (importing part, imported module) allowed against the rule, with the reason.
ALLOWED_UPWARD = {
    # `Codec.from_pretrained` / `save_pretrained` are the public convenience entry points of the codec
    # (README); they hand over to the loader at call time.
    ("codec", "tonecraft.pretrained.codec_loading"),
}
INFERENCE = ("audio", "fileio", "hub", "riff", "vorbis_comments", "codec", "lm", "provenance", "conditioning",
             "pretrained", "models", "compressed")
TRAINING = ("data", "train", "eval")
LONG_FILE_LINES = 400
LONG_FILE_NOTE = re.compile(r"why this file is long", re.IGNORECASE)


def _module_name(path: Path) -> str:
    parts = ["tonecraft", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _part(module: str) -> str:
    """tonecraft.models.genmodel -> models; tonecraft -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported tonecraft module, imported names, line) for every import statement of `path`."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "tonecraft"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "tonecraft":
                out.append((target, [a.name for a in node.names], node.lineno))
    return out


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:])
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _edges():
    """(importing module, its part, imported module, line) for every tonecraft import; `from pkg import mod`
    counts as an import of pkg.mod."""
    for path in _sources():
        module = _module_name(path)
        for target, names, line in _imports(path):
            targets = [f"{target}.{n}" for n in names if _is_module(f"{target}.{n}")] or [target]
            for t in targets:
                yield module, _part(module), t, line


def test_every_part_has_a_layer():
    parts = {_part(_module_name(p)) for p in _sources()}
    assert parts <= set(LAYERS), f"add {sorted(parts - set(LAYERS))} to LAYERS (and docs/ARCHITECTURE.md)"


def _upward(edges) -> list[str]:
    return [f"{m}:{line} imports {t} ({part} is layer {LAYERS[part]}, {_part(t)} is {LAYERS[_part(t)]})"
            for m, part, t, line in edges if LAYERS[_part(t)] > LAYERS[part] and (part, t) not in ALLOWED_UPWARD]


def _training_in_inference(edges) -> list[str]:
    return [f"{m}:{line} imports {t}" for m, part, t, line in edges if part in INFERENCE and _part(t) in TRAINING]


def test_no_import_from_a_higher_layer():
    assert not _upward(_edges()), "\n".join(_upward(_edges()))


def test_inference_never_imports_training_code():
    assert not _training_in_inference(_edges()), "\n".join(_training_in_inference(_edges()))


def test_rules_catch_planted_violations():  # the checks above can fail
    planted = [("tonecraft.pretrained.default_model", "pretrained", "tonecraft.train.export", 7)]
    assert _upward(planted) and _training_in_inference(planted)
    assert not _upward([("tonecraft.cli.generate", "cli", "tonecraft.models.genmodel", 1)])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def test_no_import_cycle_between_packages():
    graph = defaultdict(set)
    for m, part, t, _ in _edges():
        if _part(t) != part and (part, t) not in ALLOWED_UPWARD:
            graph[part].add(_part(t))
    assert not _cycles(graph), _cycles(graph)


def test_cycle_finder_finds_cycles():  # the check above can fail
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_private_name_used_across_modules():
    bad = []
    for path in _sources():
        module = _module_name(path)
        aliases = {}  # local name -> tonecraft module it refers to
        tree = ast.parse(path.read_text())
        for target, names, line in _imports(path):
            for n in names:
                if n.startswith("_") and not n.startswith("__") and not _is_module(f"{target}.{n}"):
                    bad.append(f"{module}:{line} imports {target}.{n}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    for target, names, _ in _imports(path):
                        if a.name in names and _is_module(f"{target}.{a.name}"):
                            aliases[a.asname or a.name] = f"{target}.{a.name}"
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("tonecraft") and a.asname:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and aliases[node.value.id] != module):
                bad.append(f"{module}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_long_files_say_why_at_the_top():
    long = []
    for path in _sources():
        lines = path.read_text().splitlines()
        if len(lines) > LONG_FILE_LINES and not LONG_FILE_NOTE.search("\n".join(lines[:30])):
            long.append(f"{path.relative_to(SRC)}: {len(lines)} lines")
    assert not long, ("split these files, or say near the top why they are long "
                      f"('Why this file is long: ...'):\n" + "\n".join(long))


def test_comments_cite_public_sources():
    """No citation of a document that is not in the repository (the old 'facts' section references)."""
    roots = [SRC, SRC.parents[1] / "tests", SRC.parents[1] / "docs", SRC.parents[1] / "bench"]
    bad = [f"{p}:{i}" for root in roots for p in root.rglob("*") if p.suffix in (".py", ".md")
           for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if re.search("facts\\s*\u00a7", line)]
    assert not bad, "\n".join(bad)


def test_shipped_model_files_carry_no_machine_paths():
    assets = SRC / "assets"  # every shipped model: tonecraft-default, tonecraft-sfx-default
    bad = [f"{p.relative_to(SRC)}:{i}" for p in sorted(assets.rglob("*")) if p.suffix in (".json", ".md")
           for i, line in enumerate(p.read_text().splitlines(), 1)
           if re.search(r"(^|[\s\"'`(])(/root/|/home/|~/)", line)]
    assert not bad, "\n".join(bad)
