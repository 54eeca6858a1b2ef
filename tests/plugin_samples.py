"""Plugins built in tests: one implementation of every hook, recording its calls."""

from __future__ import annotations

import inspect
import types

from shopbuilder import hookimpl
from shopbuilder.plugins import PluginMeta, hookspecs


def recording_plugin(name: str, hook_names, calls: list, **meta_fields):
    """A plugin module implementing ``hook_names``, each appending ``(name, hook)`` to ``calls``.

    Each implementation takes exactly the arguments of its specification, as a
    plugin author's would; slots return a marker so pages can show them.
    """
    module = types.ModuleType(f"sample_{name}")
    module.meta = PluginMeta(name=name, title=name.title(), version="1.0", **meta_fields)
    for hook in hook_names:
        argnames = list(inspect.signature(getattr(hookspecs, hook)).parameters)

        # Real parameters (pluggy reads the code object), so the host passes what a
        # plugin author's function would receive.
        result = "'[' + name + ']'" if hook == "shopbuilder_slot" else "[name]"
        source = (
            f"def {hook}({', '.join(argnames)}):\n"
            f"    calls.append((name, {hook!r}))\n"
            f"    return {result}\n"
        )
        namespace = {"calls": calls, "name": name}
        exec(source, namespace)  # noqa: S102 - test helper building signatures
        impl = namespace[hook]
        setattr(module, hook, hookimpl(impl))
    return module
