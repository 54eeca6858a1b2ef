#!/usr/bin/env python3
"""A mini-program's purchase, end to end, through the shop's JSON API.

Signs in, finds the nearest store, puts a product in the cart, checks out
(pickup when the store offers it, else delivery), pays with the sandbox
gateway and prints the result (and the pickup code when the store has one).
Only the standard library; every step is one documented API call, except
paying, which happens on the gateway's hosted page as in a real web view.

    python examples/api_client.py --base http://127.0.0.1:5000 \\
        --chain mingcha --email customer@example.com --password demo12345
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


class ApiError(Exception):
    """A problem+json answer: ``code`` is stable, ``title``/``detail`` are for people."""

    def __init__(self, status: int, problem: dict):
        self.status = status
        self.problem = problem
        text = problem.get("detail") or problem.get("title")
        super().__init__(f"{status} {problem.get('code')}: {text}")


class Client:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.token: str | None = None
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, method: str, path: str, body=None, headers=None, query=None):
        url = self.base + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with self.opener.open(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                problem = json.loads(raw)
            except ValueError:
                problem = {"code": "http_error", "title": raw[:200].decode(errors="replace")}
            raise ApiError(exc.code, problem) from None
        return json.loads(raw) if raw else None

    def pay_on_hosted_page(self, url: str) -> None:
        """What the customer does in the web view: open the gateway page and press *Pay*."""
        with self.opener.open(url, timeout=30) as response:
            page = response.read().decode()
        # The payment form (the page also carries the shop's search form).
        action = re.search(r'<form[^>]*action="([^"]*/pay/sandbox/[^"]*)"', page)
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]*)"', page)
        target = urllib.parse.urljoin(url, action.group(1)) if action else url
        form = {"outcome": "pay", "csrf_token": csrf.group(1) if csrf else ""}
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(urllib.request.Request(target, data=data, method="POST"),
                              timeout=30) as response:
            response.read()


def buy(args) -> dict:
    api = Client(args.base)
    stores = api.call("GET", f"/api/v1/chains/{args.chain}/stores",
                      query={"lat": args.lat, "lng": args.lng, "limit": 1})["items"]
    if not stores:
        raise SystemExit("no store found")
    store = stores[0]
    s = f"/api/v1/stores/{store['slug']}"
    print(f"store: {store['name']} ({store['slug']}), {store['distance_m']} m away")

    signed_in = api.call("POST", f"{s}/auth/token",
                         body={"email": args.email, "password": args.password})
    api.token = signed_in["access_token"]
    print(f"signed in as {signed_in['customer']['name']}")

    products = api.call("GET", f"{s}/products", query={"limit": 50})["items"]
    product = next((p for p in products if p["in_stock"]), None)
    if product is None:
        raise SystemExit("nothing in stock here")
    detail = api.call("GET", f"{s}/products/{product['id']}")
    variant = next(v for v in detail["variants"] if v["in_stock"])
    cart = api.call("POST", f"{s}/cart/items", body={"variant_id": variant["id"], "quantity": 1})
    print(f"cart: {detail['title']} {variant['label']} x1 = {cart['goods_fen'] / 100:.2f}")

    options = api.call("GET", f"{s}/checkout/options")
    codes = [o["code"] for o in options["fulfilment"]]
    fulfilment = "pickup" if "pickup" in codes else "delivery"
    fulfilment_data = {}
    if fulfilment == "pickup":
        offered = api.call("GET", f"{s}/pickup/slots")["slots"]
        slot = next(slot for slot in offered if not slot["full"])
        fulfilment_data = {"pickup_slot": slot["key"]}
        print(f"pickup at {store['name']}, slot from {slot['start']}")
    order = api.call("POST", f"{s}/orders", headers={"Idempotency-Key": str(uuid.uuid4())}, body={
        "fulfilment": fulfilment, "fulfilment_data": fulfilment_data,
        "payment_provider": "sandbox",
        "contact_name": signed_in["customer"]["name"] or "Customer",
        "contact_phone": signed_in["customer"]["phone"] or "13800000000",
        "address": "" if fulfilment == "pickup" else args.address,
    })
    print(f"order {order['number']} placed ({fulfilment}), total {order['total_fen'] / 100:.2f}")

    payment = api.call("POST", f"{s}/orders/{order['id']}/payment")
    api.pay_on_hosted_page(payment["payment_url"])
    for _attempt in range(20):
        payment = api.call("GET", f"{s}/orders/{order['id']}/payment")
        if payment["state"] != "pending":
            break
        time.sleep(0.5)
    order = api.call("GET", f"{s}/orders/{order['id']}")
    print(f"payment: {payment['state']}; order state: {order['state']}")

    pickup_code = None
    if fulfilment == "pickup":
        # The code exists once the clerk has prepared the order; wait for it if asked.
        deadline = time.monotonic() + args.wait_for_code
        while (pickup_code := pickup_code_of(api, store["slug"], order)) is None:
            if time.monotonic() >= deadline:
                break
            time.sleep(1)
    if pickup_code:
        print(f"pickup code: {pickup_code}")
    elif fulfilment == "pickup":
        print("pickup code: shown here once the store has prepared the order")
    return {"store": store["slug"], "order": order, "payment": payment,
            "pickup_code": pickup_code}


def pickup_code_of(api: Client, store: str, order: dict) -> str | None:
    """The 12-digit pickup code, once the store has prepared the order (else None)."""
    found = api.call("GET", f"/api/v1/stores/{store}/pickup/orders/{order['id']}")
    return found["code"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--chain", default="mingcha")
    parser.add_argument("--email", default="customer@example.com")
    parser.add_argument("--password", default="demo12345")
    parser.add_argument("--lat", type=float, default=30.2592)
    parser.add_argument("--lng", type=float, default=120.1487)
    parser.add_argument("--address", default="杭州市西湖区 1 号")
    parser.add_argument("--wait-for-code", type=float, default=0, metavar="SECONDS",
                        help="wait this long for the store to prepare a pickup order")
    args = parser.parse_args(argv)
    try:
        result = buy(args)
    except ApiError as exc:
        print(f"API error: {exc}", file=sys.stderr)
        return 1
    return 0 if result["payment"]["state"] == "succeeded" else 2


if __name__ == "__main__":
    sys.exit(main())
