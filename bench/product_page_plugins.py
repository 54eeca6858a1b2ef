"""Product page with every installed plugin on, against the same page with none.

Run: .venv/bin/python bench/product_page_plugins.py [--seconds 10 --rounds 3]
Writes bench/results/product_page_plugins.json.

Two copies of the demo database are built (``create_all`` + the demo chain): in one, HQ
forces every installed plugin on for the demo chain; in the other, HQ forbids them all.
The same storefront product page (``/s/west-lake/p/<id>``) is served from each by
gunicorn (2 sync workers) and measured alternately with wrk, with the bare hello-world
app as the harness's baseline. Target (issue #3): all plugins on costs at most 15% of the
page's requests per second, i.e. ``ratio(all_on) / ratio(none_on) >= 0.85``.

The storefront caches a whole anonymous page only when no plugin slot rendered anything,
so a plugin that shows something on the product page also turns that cache off for it:
``--no-page-cache`` compares the two shops with every request rendered.

The page and the built-in plugins live on other branches (storefront, orders); when the
page does not answer 200 here the script says so and writes no result.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import harness

STORE = "west-lake"

BUILD = textwrap.dedent("""
    import sys
    from shopbuilder import create_app, tenancy
    from shopbuilder.demo import load_demo
    from shopbuilder.extensions import db
    from shopbuilder.models import Chain, Product, Store
    from shopbuilder.plugins import get_host
    from shopbuilder.plugins.policy import set_chain_policy

    policy = sys.argv[1]
    app = create_app()
    with app.app_context(), tenancy.unscoped():
        db.create_all()
        load_demo(echo=lambda *a, **k: None)
        store = db.session.scalar(db.select(Store).where(Store.slug == "{store}"))
        for name in get_host().names:
            set_chain_policy(store.chain, name, policy)
        db.session.commit()
        product = db.session.scalar(
            db.select(Product.id).where(Product.chain_id == store.chain_id).order_by(Product.id)
        )
        print(product, ",".join(get_host().names))
""").format(store=STORE)


def build(instance: Path, policy: str) -> tuple[int, list[str]]:
    instance.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SHOPBUILDER_INSTANCE_PATH": str(instance)}
    out = subprocess.run(
        [sys.executable, "-c", BUILD, policy], check=True, capture_output=True, text=True,
        env=env, cwd=harness.REPO_ROOT,
    ).stdout.split()
    return int(out[0]), (out[1].split(",") if len(out) > 1 else [])


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--note", default="", help="Recorded in the result's setup.")
    parser.add_argument(
        "--no-page-cache", action="store_true",
        help="Turn the storefront's whole-page cache off in both shops (every request renders).",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sb-plugins-page-") as tmp:
        on_dir, off_dir = Path(tmp) / "all_on", Path(tmp) / "none_on"
        product_id, plugins = build(on_dir, "forced")
        build(off_dir, "forbidden")
        if args.no_page_cache:
            for folder in (on_dir, off_dir):
                with open(folder / "config.py", "a", encoding="utf-8") as config:
                    config.write("\nSTOREFRONT_PAGE_CACHE_DISABLED = True\n")
        path = f"/s/{STORE}/p/{product_id}"
        with (
            harness.serve("wsgi:app", env={"SHOPBUILDER_INSTANCE_PATH": str(on_dir)}) as on,
            harness.serve("wsgi:app", env={"SHOPBUILDER_INSTANCE_PATH": str(off_dir)}) as off,
            harness.serve(harness.HELLO) as hello,
        ):
            for url in (on + path, off + path):
                if status(url) != 200:
                    print(f"{url} answers {status(url)}: the storefront product page is not on "
                          "this branch yet; no result written.")
                    return

            def measure(url: str):
                return lambda: harness.measure_rps(
                    url, seconds=args.seconds, connections=args.connections
                )

            result = harness.interleaved(
                [("all_on", measure(on + path)), ("none_on", measure(off + path)),
                 ("hello", measure(hello + "/"))],
                rounds=args.rounds,
                # Back-to-back pairs of the two shops give the overhead directly; hello-world
                # is measured in the same rounds to show how busy the machine was.
                baseline="none_on",
            )
    ratio = result["ratio"].get("all_on")
    result["setup"] = {
        "target": f"GET {path} with every installed plugin forced on ({', '.join(plugins)})",
        "compared_with": f"GET {path} with every plugin forbidden",
        "baseline": "none_on (ratio[all_on] is the overhead ratio); hello = bench/hello.py",
        "database": "sqlite, demo data, create_all",
        "workers": 2,
        "seconds": args.seconds,
        "connections": args.connections,
        "note": args.note,
        "page_cache": "off" if args.no_page_cache else "on (storefront default)",
    }
    result["all_on_vs_none_on"] = ratio
    result["target"] = "all_on_vs_none_on >= 0.85"
    name = "product_page_plugins" + ("_no_page_cache" if args.no_page_cache else "")
    harness.write_result(name, result)


if __name__ == "__main__":
    main()
