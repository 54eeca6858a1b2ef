"""The plugin author's guide documents every hook (``docs/plugins.md``)."""

from __future__ import annotations

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
