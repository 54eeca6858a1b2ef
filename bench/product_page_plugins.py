"""Product page with every installed plugin on and rendering, against the same page with none.

Run: .venv/bin/python bench/product_page_plugins.py [--seconds 10 --rounds 3 --page-cache both]
Writes bench/results/product_page_plugins.json (page cache on, anonymous visitors) and
bench/results/product_page_plugins_no_page_cache.json (page cache off, a signed-in
distributor: every request renders every slot).

Two copies of the demo database are built (``create_all`` + the demo chain) with the same
data, so that every built-in plugin has something to show on ``/s/west-lake/p/<id>``:

* a live group-buy campaign on that product in west-lake, with one group open to join
  (group-buy's price, actions and the group's members and countdown);
* the demo customer as an active distributor (distribution's share bar, shown to them only);
* pickup needs nothing (its finder link is on every product page);
* the example gift note plugin (``examples/shopbuilder-gift-note``), pip-installed into a
  temporary folder on ``PYTHONPATH`` of both shops (its hint under the price).

In one copy HQ forces every installed plugin on for the chain; in the other HQ forbids them
all. Before measuring, the script fetches the page from both shops and stops, writing
nothing, unless each plugin's markup is on the all-on page and none is on the none-on page.
The two shops (gunicorn, 2 sync workers) and the bare hello-world app (the harness's
baseline, to show how busy the machine was) are measured in interleaved rounds with wrk.

Two modes (``--page-cache``):

* ``on`` — the realistic case: anonymous visitors, the storefront's whole-page cache on.
  A page is kept only when every slot on it says it may be: pickup's link, the gift
  note's hint and, for anonymous visitors, group-buy's price and groups do (group-buy
  renews the store's pages when a group or campaign changes, and caps the entry's life
  at the next campaign start, end or group deadline; see docs/groupbuy.md). Both pages
  therefore come from the cache. Distribution shows nothing to anonymous visitors.
* ``off`` — every request renders every slot: the page cache is turned off in both shops
  and the requests carry the session cookie of the demo customer (an active distributor),
  signed in through the shop's own sign-in form, so the share bar renders too.

Target (issue #3): all plugins on costs at most 15% of the page's requests per second,
i.e. ``ratio(all_on / none_on) >= 0.85``.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import harness

STORE = "west-lake"
CUSTOMER = ("customer@example.com", "demo12345")  # the demo's distributor (demo only)
GIFT_NOTE = harness.REPO_ROOT / "examples" / "shopbuilder-gift-note"

#: What each plugin puts on the product page; ``None``: it has no product-page slot.
MARKUP = {
    "pickup": 'class="pickup-finder-link"',
    "groupbuy": 'class="gb-actions"',
    "gift_note": 'class="gift-note-hint"',
    "distribution": 'class="distribution-share"',
    "offline": None,   # payment providers: checkout only
    "sandbox": None,
    "notify_log": None,  # a notification channel: no page output
}
#: Plugins that show their product-page markup to signed-in visitors only.
SIGNED_IN_ONLY = {"distribution"}


# -- building a shop (runs in its own process, on its own instance folder) ----------------------


def build_shop(policy: str) -> None:
    """Demo data, a live campaign, an active distributor; HQ ``policy`` for every plugin."""
    from datetime import timedelta

    from shopbuilder import clock, create_app, tenancy
    from shopbuilder.demo import load_demo
    from shopbuilder.extensions import db
    from shopbuilder.models import Customer, Product, Store, StoreListing, Variant
    from shopbuilder.plugins import get_host
    from shopbuilder.plugins.policy import set_chain_policy

    app = create_app()
    with app.app_context(), tenancy.unscoped():
        db.create_all()
        load_demo(echo=lambda *a, **k: None, social=False)  # the script seeds its own
        store = db.session.scalar(db.select(Store).where(Store.slug == STORE))
        chain = store.chain
        product_id = db.session.scalar(
            db.select(Product.id).where(Product.chain_id == chain.id).order_by(Product.id))
        variant = db.session.scalar(
            db.select(Variant).where(Variant.product_id == product_id).order_by(Variant.id))
        listing = db.session.scalar(db.select(StoreListing).where(
            StoreListing.store_id == store.id, StoreListing.variant_id == variant.id))
        names = get_host().names
        if "groupbuy" in names:
            from shopbuilder_groupbuy import service as groupbuy

            now = clock.now()
            campaign = groupbuy.create_campaign(groupbuy.CampaignInput(
                title="Bench group", variant_id=variant.id,
                group_price_fen=max(1, variant.price_fen * 8 // 10), group_size=3,
                fill_hours=24, starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=30), unit_cap=max(1, min(20, listing.available)),
            ), chain, store=store)
            open_group(app, chain, store, campaign)
        if "distribution" in names:
            from shopbuilder_distribution import service as distribution

            customer = db.session.scalar(
                db.select(Customer).where(Customer.email == CUSTOMER[0]))
            row = distribution.apply(chain, customer, store=store)
            distribution.decide(row, True, "bench")
        for name in names:
            set_chain_policy(chain, name, policy)
        db.session.commit()
        print(product_id, ",".join(names))


def open_group(app, chain, store, campaign) -> None:
    """A group open to join, led by a customer who is not the benchmark's visitor.

    Placed and paid through the plugin's hooks, so every plugin is forced on while it
    is placed (both shops get the same rows); the caller then sets the policy measured.
    """
    from shopbuilder_groupbuy import service as groupbuy

    from shopbuilder import tenancy
    from shopbuilder.extensions import db
    from shopbuilder.models import Customer
    from shopbuilder.plugins import get_host
    from shopbuilder.plugins.policy import set_chain_policy
    from shopbuilder.services import orders

    for name in get_host().names:
        set_chain_policy(chain, name, "forced")
    leader = Customer(chain_id=chain.id, email="bench-leader@example.com", name="Bench leader")
    leader.set_password("bench-leader-password")
    db.session.add(leader)
    db.session.commit()
    checkout = orders.Checkout(fulfilment_code="delivery", payment_provider="offline",
                               contact_name="Bench", contact_phone="13800000000",
                               address="1 Lake Road")
    with app.test_request_context(), tenancy.store_scope(store):
        order = groupbuy.start_group(store, leader, campaign, checkout)
        orders.mark_paid(order, "system")


def build(instance: Path, policy: str, env: dict) -> tuple[int, list[str]]:
    instance.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, __file__, "--build-shop", policy], check=True, capture_output=True,
        text=True, env={**os.environ, **env, "SHOPBUILDER_INSTANCE_PATH": str(instance)},
        cwd=harness.REPO_ROOT,
    ).stdout.split()
    return int(out[-2]), out[-1].split(",")


def install_gift_note(target: Path) -> dict:
    """``pip install`` the example plugin into ``target``; the env that puts it on the path."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(target), str(GIFT_NOTE)],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        print(f"gift note not installed, measuring without it:\n{result.stderr[-1500:]}")
        return {}
    path = os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path}


# -- talking to a served shop ------------------------------------------------------------------


def sign_in(base: str, email: str, password: str) -> str:
    """Sign in through the shop's own form; the ``Cookie`` header of that session."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login = f"{base}/s/{STORE}/login"
    page = opener.open(login, timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "email": email, "password": password})
    opener.open(login, data=body.encode(), timeout=30).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar if c.name == "session")
    if "session=" not in cookie:
        raise SystemExit(f"could not sign in as {email} at {login}")
    return cookie


def fetch(url: str, headers: dict) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def check_pages(on: tuple[str, dict], off: tuple[str, dict], plugins: list[str],
                signed_in: bool) -> dict[str, str]:
    """Stop unless each plugin's markup is on the all-on page and none on the none-on page.

    ``on`` and ``off`` are (url, headers): each shop has its own secret key, so its own
    session cookie.
    """
    (on_url, on_headers), (off_url, off_headers) = on, off
    on_status, on_html = fetch(on_url, on_headers)
    off_status, off_html = fetch(off_url, off_headers)
    # Only a signed-in customer's page links to their account.
    if signed_in and not all(f'href="/s/{STORE}/account"' in html
                             for html in (on_html, off_html)):
        raise SystemExit("the session cookie does not sign the visitor in: no result")
    if on_status != 200 or off_status != 200:
        raise SystemExit(f"{on_url} -> {on_status}, {off_url} -> {off_status}: no result")
    shown, problems = {}, []
    for name in plugins:
        markup = MARKUP.get(name, "unknown")
        if markup == "unknown":
            problems.append(f"{name}: no markup known for this plugin; add it to MARKUP")
        elif markup is None:
            shown[name] = "no product-page slot"
        elif name in SIGNED_IN_ONLY and not signed_in:
            shown[name] = "shows nothing to anonymous visitors"
        elif markup not in on_html:
            problems.append(f"{name}: {markup} missing from the all-on page")
        else:
            shown[name] = "rendered"
        if markup and markup != "unknown" and markup in off_html:
            problems.append(f"{name}: {markup} on the page where every plugin is forbidden")
    if problems:
        raise SystemExit("the plugins do not render as this benchmark needs; no result "
                         "written:\n  " + "\n  ".join(problems))
    return shown


def run_mode(args, cache_on: bool, dirs: dict, env: dict, path: str, plugins: list[str]):
    """Serve both shops and hello-world; check the pages; measure them in interleaved rounds."""
    with (
        harness.serve("wsgi:app", env={**env, "SHOPBUILDER_INSTANCE_PATH": str(dirs["on"])})
        as on,
        harness.serve("wsgi:app", env={**env, "SHOPBUILDER_INSTANCE_PATH": str(dirs["off"])})
        as off,
        harness.serve(harness.HELLO) as hello,
    ):
        signed_in = not cache_on
        on_headers = {"Cookie": sign_in(on, *CUSTOMER)} if signed_in else {}
        off_headers = {"Cookie": sign_in(off, *CUSTOMER)} if signed_in else {}
        shown = check_pages((on + path, on_headers), (off + path, off_headers), plugins,
                            signed_in)

        def measure(url: str, headers: dict):
            return lambda: harness.measure_rps(
                url, seconds=args.seconds, connections=args.connections, headers=headers
            )

        result = harness.interleaved(
            [("all_on", measure(on + path, on_headers)),
             ("none_on", measure(off + path, off_headers)),
             ("hello", measure(hello + "/", {}))],
            rounds=args.rounds,
            # Back-to-back pairs of the two shops give the overhead directly; hello-world
            # is measured in the same rounds to show how busy the machine was.
            baseline="none_on",
        )
    visitor = ("a signed-in distributor (the demo customer), session cookie on every request"
               if signed_in else "anonymous")
    result["setup"] = {
        "target": f"GET {path} with every installed plugin forced on ({', '.join(plugins)})",
        "compared_with": f"GET {path} with every plugin forbidden (same data)",
        "baseline": "none_on (ratio[all_on] is the overhead ratio); hello = bench/hello.py",
        "plugins_on_the_page": shown,
        "data": "demo chain; a live group-buy campaign on the product in west-lake; the "
                "demo customer an active distributor",
        "visitor": visitor,
        "database": "sqlite, demo data, create_all",
        "workers": 2,
        "seconds": args.seconds,
        "connections": args.connections,
        "note": args.note,
        "page_cache": "on (storefront default)" if cache_on else "off",
    }
    result["all_on_vs_none_on"] = result["ratio"].get("all_on")
    result["target"] = "all_on_vs_none_on >= 0.85"
    harness.write_result(
        "product_page_plugins" + ("" if cache_on else "_no_page_cache"), result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--note", default="", help="Recorded in the result's setup.")
    parser.add_argument("--page-cache", choices=("on", "off", "both"), default="both",
                        help="on: anonymous visitors, page cache on; off: page cache off and a "
                             "signed-in distributor; both (default): one after the other.")
    parser.add_argument("--no-page-cache", action="store_true",
                        help="The same as --page-cache off.")
    parser.add_argument("--build-shop", metavar="POLICY", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_shop:
        build_shop(args.build_shop)
        return
    modes = {"on": [True], "off": [False], "both": [True, False]}[
        "off" if args.no_page_cache else args.page_cache]

    with tempfile.TemporaryDirectory(prefix="sb-plugins-page-") as tmp:
        env = install_gift_note(Path(tmp) / "site")
        dirs = {"on": Path(tmp) / "all_on", "off": Path(tmp) / "none_on"}
        product_id, plugins = build(dirs["on"], "forced", env)
        build(dirs["off"], "forbidden", env)
        path = f"/s/{STORE}/p/{product_id}"
        for cache_on in modes:
            if not cache_on:
                for folder in dirs.values():
                    with open(folder / "config.py", "a", encoding="utf-8") as config:
                        config.write("\nSTOREFRONT_PAGE_CACHE_DISABLED = True\n")
            run_mode(args, cache_on, dirs, env, path, plugins)


if __name__ == "__main__":
    main()
