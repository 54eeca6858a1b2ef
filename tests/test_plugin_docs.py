"""The plugin author's guide documents every hook (``docs/plugins.md``)."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

from shopbuilder.plugins import HOOK_API_VERSION, hookspecs

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def sections() -> dict[str, str]:
    """``{heading: body}`` for every Markdown heading of the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    parts = re.split(r"^#{2,4} (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def heading_for(hook: str) -> str:
    args = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    return f"{hook}({args})"


@pytest.mark.parametrize("hook", hookspecs.all_hook_names())
def test_every_hook_has_a_section_with_its_arguments_and_an_example(hook):
    found = sections()
    heading = heading_for(hook)
    assert heading in found, f"docs/plugins.md has no section '#### {heading}'"
    body = found[heading]
    assert "**When**" in body, f"{heading}: say when it is called"
    assert "```python" in body and "@hookimpl" in body, f"{heading}: give an example"
    for arg in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f"`{arg}`" in body, f"{heading}: describe the argument `{arg}`"


def test_guide_documents_no_hook_that_does_not_exist():
    documented = {h.split("(")[0] for h in sections() if h.startswith("shopbuilder_")}
    assert documented == set(hookspecs.all_hook_names())


def test_guide_states_the_current_hook_api_version():
    assert f"**{HOOK_API_VERSION}**" in GUIDE.read_text(encoding="utf-8")


# -- the core names a plugin may use ------------------------------------------------------------

ROOT = GUIDE.parents[1]
#: Code written as plugin authors write it: the built-in plugins and the example gift note.
PLUGIN_SOURCES = [ROOT / "plugins", ROOT / "examples" / "shopbuilder-gift-note"]
INTERNAL_HEADING = "Internal names still used, and what replaces them"


def _is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ImportError:
        return False
    return True


def core_names_used_by(path: Path) -> set[str]:
    """``module.name`` of every ``shopbuilder`` name the file imports or reaches on a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: dict[str, str] = {}  # local name -> imported shopbuilder module
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module.split(".")[0] == "shopbuilder"):
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _is_module(dotted):
                    modules[alias.asname or alias.name] = dotted
                else:
                    used.add(dotted)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("shopbuilder."):
                    assert alias.asname, f"{path}: use 'from ... import' for {alias.name}"
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            used.add(f"{modules[node.value.id]}.{node.attr}")
    return used


def plugin_core_uses() -> dict[str, set[str]]:
    """``{module.name: {files using it}}`` over the plugins' code (their tests excluded)."""
    found: dict[str, set[str]] = {}
    for folder in PLUGIN_SOURCES:
        for path in sorted(folder.rglob("*.py")):
            if "tests" in path.relative_to(folder).parts:
                continue
            for name in core_names_used_by(path):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_scaffold_writes_code_that_uses_only_public_core_names(tmp_path):
    from shopbuilder.plugins.scaffold import create_plugin

    public, _internal = documented_core_names()
    package = create_plugin("sample_plugin", tmp_path)
    used = set().union(*(core_names_used_by(p) for p in package.rglob("*.py")))
    assert used and used <= public, sorted(used - public)


def documented_core_names() -> tuple[set[str], set[str]]:
    """``(public, internal)``: ``module.name`` from the guide's "Core services" tables."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("\n## Core services a plugin may use\n", 1)[1].split("\n## ", 1)[0]
    public, internal, module = set(), set(), None
    for line in section.splitlines():
        heading = re.match(r"^#### (.+)$", line)
        if heading:
            title = heading.group(1).strip()
            found = re.fullmatch(r"`(shopbuilder[\w.]*)`", title)
            module = found.group(1) if found else ("internal" if title == INTERNAL_HEADING
                                                  else None)
            continue
        row = re.match(r"^\|([^|]+)\|", line)
        if not row or module is None:
            continue
        for token in re.findall(r"`([A-Za-z_][\w.]*)", row.group(1)):
            if module == "internal":
                internal.add(token)
            else:
                public.add(f"{module}.{token}")
    return public, internal


def test_plugins_use_only_core_names_the_guide_lists_as_public():
    public, internal = documented_core_names()
    undocumented = {name: files for name, files in plugin_core_uses().items()
                    if name not in public | internal}
    assert not undocumented, (
        "plugins use shopbuilder names that docs/plugins.md, 'Core services a plugin may "
        "use', does not list:\n" + "\n".join(
            f"  {name}: {', '.join(sorted(files))}" for name, files in sorted(undocumented.items()))
    )


def test_every_core_name_the_guide_lists_exists():
    public, internal = documented_core_names()
    assert len(public) > 50
    missing = []
    for dotted in sorted(public | internal):
        module, _, name = dotted.rpartition(".")
        if not hasattr(importlib.import_module(module), name):
            missing.append(dotted)
    assert not missing, f"docs/plugins.md lists names the core does not have: {missing}"


def test_the_example_plugin_uses_no_internal_name():
    _public, internal = documented_core_names()
    uses = plugin_core_uses()
    example = {name for name, files in uses.items()
               if any(f.startswith("examples/") for f in files)}
    assert example and not example & internal, sorted(example & internal)
