"""Packages of the core plus the built-in plugins kept under ``plugins/``.

setup.cfg holds the metadata; this file only maps each built-in plugin's import
name (``shopbuilder_<name>``) to its folder, which setup.cfg cannot express next
to ``find_namespace:``. Works for ``pip install .`` and ``pip install -e .``.
"""

from setuptools import find_namespace_packages, setup

PLUGINS = find_namespace_packages("plugins", include=["shopbuilder_*"])
PLUGIN_DATA = ["templates/**/*", "translations/**/*", "static/**/*", "migrations/*.py"]

setup(
    packages=find_namespace_packages(".", include=["shopbuilder", "shopbuilder.*"]) + PLUGINS,
    package_dir={"": ".", **{name: "plugins/" + name.replace(".", "/") for name in PLUGINS}},
    package_data={name: PLUGIN_DATA for name in PLUGINS if "." not in name},
)
