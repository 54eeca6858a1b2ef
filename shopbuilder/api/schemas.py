"""marshmallow schemas: request validation and the shapes in the OpenAPI description.

Money is always integer fen (``*_fen``) with the store's ``currency``.
"""

from __future__ import annotations

import math

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate

from .pagination import PageQuery

Id = fields.Integer(validate=validate.Range(1, 2**31 - 1))

#: ``fulfilment_data`` is stored with the order: a few plain values, never a document.
FULFILMENT_DATA_KEYS = 20
PLAIN_TEXT_MAX = 500


class PlainValue(fields.Raw):
    """A string (up to 500 characters), a number, true, false or null: nothing nested."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and len(value) <= PLAIN_TEXT_MAX:
            return value
        if isinstance(value, int) and abs(value) <= 2**53:
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        raise ValidationError(
            _("Send a string (up to 500 characters), a number, true, false or null."))


def few_entries(value: dict) -> None:
    if len(value) > FULFILMENT_DATA_KEYS:
        raise ValidationError(_("At most %(count)s entries.", count=FULFILMENT_DATA_KEYS))


class ChainRef(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)


class StoreSummary(Schema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    city = fields.String(required=True)
    address = fields.String(required=True)
    phone = fields.String(required=True)
    lat = fields.Float(required=True, allow_none=True)
    lng = fields.Float(required=True, allow_none=True)


class StoreFound(StoreSummary):
    distance_m = fields.Integer(
        required=True, allow_none=True,
        metadata={"description": "Metres from the given point; null without lat/lng."})


class StoreDetail(StoreSummary):
    chain = fields.Nested(ChainRef, required=True)
    description = fields.String(required=True)
    opening_hours = fields.Dict(
        keys=fields.String(), values=fields.List(fields.List(fields.String())), required=True,
        metadata={"description": 'e.g. {"mon": [["09:00", "21:00"]]}'})
    currency = fields.String(required=True)
    locale = fields.String(required=True)
    plugins = fields.List(fields.String(), required=True,
                          metadata={"description": "Plugins enabled here (pickup, groupbuy...)."})


class StorePage(Schema):
    items = fields.List(fields.Nested(StoreFound), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class StoreFinderQuery(PageQuery):
    lat = fields.Float(validate=validate.Range(-90, 90))
    lng = fields.Float(validate=validate.Range(-180, 180))
    city = fields.String(validate=validate.Length(max=64))


class CategorySchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    parent_id = fields.Integer(required=True, allow_none=True)
    position = fields.Integer(required=True)


class CategoryList(Schema):
    items = fields.List(fields.Nested(CategorySchema), required=True)


class ProductSummary(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    category_id = fields.Integer(required=True, allow_none=True)
    image_url = fields.String(required=True, allow_none=True)
    price_fen = fields.Integer(required=True, metadata={"description": "Lowest variant price."})
    max_price_fen = fields.Integer(required=True, metadata={"description": "Highest."})
    compare_at_fen = fields.Integer(required=True, allow_none=True)
    currency = fields.String(required=True)
    in_stock = fields.Boolean(required=True)


class VariantSchema(Schema):
    id = fields.Integer(required=True)
    sku = fields.String(required=True)
    label = fields.String(required=True)
    options = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    price_fen = fields.Integer(required=True)
    compare_at_fen = fields.Integer(required=True, allow_none=True)
    available = fields.Integer(required=True, metadata={"description": "Units one can buy now."})
    in_stock = fields.Boolean(required=True)


class ProductDetail(ProductSummary):
    description = fields.String(required=True)
    variants = fields.List(fields.Nested(VariantSchema), required=True)


class ProductPage(Schema):
    items = fields.List(fields.Nested(ProductSummary), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


SORTS = ("default", "newest", "price_asc", "price_desc")
SEARCH_SORTS = ("relevance", "newest", "price_asc", "price_desc")


class ProductQuery(PageQuery):
    category = fields.Integer(validate=validate.Range(1, 2**31 - 1),
                              metadata={"description": "Category id (its subcategories too)."})
    sort = fields.String(load_default="default", validate=validate.OneOf(SORTS))


class SearchQuery(PageQuery):
    q = fields.String(required=True, validate=validate.Length(1, 100),
                      metadata={"description": "Words or characters (Chinese works as typed)."})
    category = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    min_price_fen = fields.Integer(validate=validate.Range(0, 2**31 - 1))
    max_price_fen = fields.Integer(validate=validate.Range(0, 2**31 - 1))
    sort = fields.String(load_default="relevance", validate=validate.OneOf(SEARCH_SORTS))


class TokenRequest(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=255))
    password = fields.String(required=True, validate=validate.Length(1, 128), load_only=True)


class CustomerSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    phone = fields.String(required=True)


class TokenResponse(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"description": "Always `Bearer`."})
    expires_at = fields.DateTime(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})
    customer = fields.Nested(CustomerSchema, required=True)


class ApiIndex(Schema):
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    openapi = fields.String(required=True)
    docs = fields.String(required=True)


# -- cart, checkout, orders, payments -------------------------------------------------------------


class CartItem(Schema):
    variant_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    title = fields.String(required=True)
    variant_label = fields.String(required=True)
    sku = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price_fen = fields.Integer(required=True)
    line_total_fen = fields.Integer(required=True)
    available = fields.Integer(required=True)
    problem = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(["unavailable", "short"]),
        metadata={"description": "`unavailable` (no longer sold here), `short` (not enough "
                                 "stock) or null."})


class CartSchema(Schema):
    items = fields.List(fields.Nested(CartItem), required=True)
    goods_fen = fields.Integer(required=True)
    currency = fields.String(required=True)


class CartAdd(Schema):
    variant_id = fields.Integer(required=True, validate=validate.Range(1, 2**31 - 1))
    quantity = fields.Integer(load_default=1, validate=validate.Range(1, 99))


class CartQuantity(Schema):
    quantity = fields.Integer(required=True, validate=validate.Range(0, 99),
                              metadata={"description": "0 removes the line."})


class FulfilmentOptionSchema(Schema):
    code = fields.String(required=True, metadata={"description": "`delivery`, `pickup`..."})
    label = fields.String(required=True)
    fee_fen = fields.Integer(required=True)
    needs_address = fields.Boolean(required=True)
    details = fields.Dict(required=True)


class PaymentProviderSchema(Schema):
    code = fields.String(required=True, metadata={"description": "`sandbox`, `offline`..."})
    label = fields.String(required=True)
    online = fields.Boolean(required=True,
                            metadata={"description": "True: open `payment_url` to pay."})


class AdjustmentSchema(Schema):
    code = fields.String(required=True)
    label = fields.String(required=True)
    amount_fen = fields.Integer(required=True)


class CheckoutOptions(Schema):
    fulfilment = fields.List(fields.Nested(FulfilmentOptionSchema), required=True)
    payment_providers = fields.List(fields.Nested(PaymentProviderSchema), required=True)
    adjustments = fields.List(fields.Nested(AdjustmentSchema), required=True)
    cart = fields.Nested(CartSchema, required=True)


class PlaceOrder(Schema):
    fulfilment = fields.String(required=True, validate=validate.Length(1, 32),
                               metadata={"description": "A `code` from checkout options."})
    payment_provider = fields.String(required=True, validate=validate.Length(1, 32))
    fulfilment_data = fields.Dict(
        keys=fields.String(validate=validate.Length(max=64)),
        values=PlainValue(metadata={"type": ["string", "number", "boolean", "null"],
                                    "maxLength": PLAIN_TEXT_MAX}),
        validate=few_entries, load_default=dict,
        metadata={"maxProperties": FULFILMENT_DATA_KEYS,
                  "description": "What the chosen option asks for, as plain values: for "
                                 '`pickup`, `{"pickup_slot": "<key>"}` (a slot `key` of '
                                 "`pickup_api_slot_list`)."})
    contact_name = fields.String(load_default="", validate=validate.Length(max=120))
    contact_phone = fields.String(load_default="", validate=validate.Length(max=32))
    address = fields.String(load_default="", validate=validate.Length(max=500))
    note = fields.String(load_default="", validate=validate.Length(max=500))


class OrderLineSchema(Schema):
    variant_id = fields.Integer(required=True)
    title = fields.String(required=True)
    variant_label = fields.String(required=True)
    sku = fields.String(required=True)
    unit_price_fen = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    line_total_fen = fields.Integer(required=True)


ORDER_STATES = ("pending_payment", "paid", "awaiting_group", "ready_for_pickup", "shipped",
                "completed", "cancelled", "refunded")


class OrderSummary(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(ORDER_STATES))
    total_fen = fields.Integer(required=True)
    currency = fields.String(required=True)
    fulfilment = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class OrderSchema(OrderSummary):
    goods_fen = fields.Integer(required=True)
    delivery_fen = fields.Integer(required=True)
    adjustment_fen = fields.Integer(required=True)
    paid_fen = fields.Integer(required=True)
    refunded_fen = fields.Integer(required=True)
    adjustments = fields.List(fields.Nested(AdjustmentSchema), required=True)
    fulfilment_data = fields.Dict(required=True)
    payment_provider = fields.String(required=True)
    contact_name = fields.String(required=True)
    contact_phone = fields.String(required=True)
    address = fields.String(required=True)
    note = fields.String(required=True)
    hold_reason = fields.String(required=True, allow_none=True)
    tracking_number = fields.String(required=True, allow_none=True)
    paid_at = fields.DateTime(required=True, allow_none=True)
    lines = fields.List(fields.Nested(OrderLineSchema), required=True)


class OrderPage(Schema):
    items = fields.List(fields.Nested(OrderSummary), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class PaymentSchema(Schema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    provider = fields.String(required=True)
    state = fields.String(required=True,
                          validate=validate.OneOf(["pending", "succeeded", "failed"]),
                          metadata={"description": "`succeeded` once the money arrived."})
    amount_fen = fields.Integer(required=True)
    paid_at = fields.DateTime(required=True, allow_none=True)
    payment_url = fields.String(
        required=True, allow_none=True,
        metadata={"description": "Open it (web view) to pay online; null when paid or offline."})


class RegisterRequest(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 120))
    email = fields.Email(required=True, validate=validate.Length(max=255))
    password = fields.String(required=True, validate=validate.Length(8, 128), load_only=True)
    phone = fields.String(load_default="", validate=validate.Length(max=32))
