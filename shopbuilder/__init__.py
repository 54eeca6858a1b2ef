"""ShopBuilder: one Flask deployment, a branded shop for every store of a chain."""

from __future__ import annotations

from .plugins import hookimpl

__version__ = "0.1.0"


def create_app(test_config=None):
    from .app import create_app as _create_app

    return _create_app(test_config)


__all__ = ["create_app", "hookimpl", "__version__"]
