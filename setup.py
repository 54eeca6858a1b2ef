"""Packages of the core plus the built-in plugins kept under ``plugins/``.

setup.cfg holds the metadata; this file only maps each built-in plugin's import
name (``shopbuilder_<name>``) to its folder, which setup.cfg cannot express next
to ``find_namespace:``. Works for ``pip install .`` and ``pip install -e .``.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup

HERE = Path(__file__).parent
BUILTIN_PLUGINS = sorted(p.name for p in (HERE / "plugins").glob("shopbuilder_*")
                         if (p / "__init__.py").exists())
PLUGIN_DATA = ["templates/**/*", "translations/**/*", "static/**/*", "migrations/*.py"]

setup(
    packages=find_namespace_packages(include=["shopbuilder", "shopbuilder.*"]) + BUILTIN_PLUGINS,
    package_dir={"": ".", **{name: f"plugins/{name}" for name in BUILTIN_PLUGINS}},
    package_data={name: PLUGIN_DATA for name in BUILTIN_PLUGINS},
)
