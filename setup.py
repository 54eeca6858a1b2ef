"""Packages: the core, plus the built-in plugins kept in ``plugins/`` under their own names.

Everything else is in setup.cfg; setup.cfg alone cannot find packages in two folders.
"""

from setuptools import find_namespace_packages, setup

PLUGINS = find_namespace_packages("plugins", include=["shopbuilder_*"])

setup(
    packages=find_namespace_packages(".", include=["shopbuilder", "shopbuilder.*"]) + PLUGINS,
    package_dir={"": ".", **{name: "plugins/" + name.replace(".", "/") for name in PLUGINS}},
)
