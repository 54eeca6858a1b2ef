"""The store's listing console: prices and stock, CSV, its own products, its API keys.

Managers change prices, stock and listing; clerks see the table (stock
included) but cannot change it.
"""

from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..auth import manager_required, staff_required
from ..catalogue_views import category_id_from_form, load_product, page_number, variants_from_form
from ..extensions import db
from ..models import StoreApiKey
from ..money import yuan_text
from ..services import catalogue as service
from . import bp

PER_PAGE = 50
KEYS_PER_PAGE = 50


@bp.get("/listings")
@staff_required
def listings():
    q = request.args.get("q", "")
    low = request.args.get("low") == "1"
    page = page_number()
    rows, total = service.listing_rows(g.store, q=q, page=page, per_page=PER_PAGE, low_only=low)
    return render_template(
        "manage/listings/list.html", rows=rows, total=total, page=page, per_page=PER_PAGE,
        q=q, low=low, low_default=service.LOW_STOCK_DEFAULT,
        may_edit=g.staff_role == "manager",
    )


@bp.post("/listings/<int:variant_id>")
@manager_required
def listing_update(variant_id):
    if service.variant_in_store(g.store, variant_id) is None:
        abort(404)
    listed = request.form.get("listed")
    try:
        service.update_listing(
            g.store, variant_id, price=request.form.get("price"),
            compare_at=request.form.get("compare_at"),
            stock=request.form.get("stock"), stock_was=request.form.get("stock_was"),
            listed=None if listed is None else listed == "1",
            low_stock=request.form.get("low_stock"),
        )
        db.session.commit()
        flash(_l("Saved."), "success")
    except service.CatalogueError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "error")
    back = request.form.get("back", "")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("manage.listings")
    return redirect(back)


@bp.get("/listings/export.csv")
@manager_required
def listings_export():
    body = "\ufeff" + service.export_listings_csv(g.store)
    stamp = clock.now().strftime("%Y%m%d")
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={g.store.slug}-listings-{stamp}.csv",
    })


@bp.route("/listings/import", methods=["GET", "POST"])
@manager_required
def listings_import():
    result = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_l("Choose a CSV file."), "error")
            return render_template("manage/listings/import.html", result=None), 400
        dry_run = request.form.get("dry_run") == "1"
        try:
            result = service.import_listings_csv(g.store, upload.read(), dry_run=dry_run)
        except service.CatalogueError as exc:
            db.session.rollback()
            flash(exc.messages[0], "error")
            return render_template("manage/listings/import.html", result=None), 409
        if result.applied:
            db.session.commit()
            flash(_l("Imported %(n)s rows.", n=result.created + result.updated), "success")
        else:
            db.session.rollback()
        status = 422 if result.errors else 200
        return render_template("manage/listings/import.html", result=result,
                               dry_run=dry_run), status
    return render_template("manage/listings/import.html", result=None)


# -- the store's own products ------------------------------------------------------------------


@bp.get("/products")
@manager_required
def local_products():
    q = request.args.get("q", "")
    page = page_number()
    rows, total = service.product_page(g.chain.id, q=q, page=page, per_page=25,
                                       store_id=g.store.id)
    return render_template("manage/listings/products.html", products=rows, total=total,
                           page=page, per_page=25, q=q)


def _local_form(product=None):
    tree = service.category_tree(g.chain.id)
    if request.method == "POST":
        try:
            product = service.save_product(
                g.chain.id, title=request.form.get("title", ""),
                description=request.form.get("description", ""),
                category_id=category_id_from_form(request.form),
                status=request.form.get("status", "active"),
                variants=variants_from_form(request.form), product=product, store_id=g.store.id,
            )
        except service.CatalogueError as exc:
            db.session.rollback()
            for message in exc.messages:
                flash(message, "error")
            return render_template("catalogue/product_form.html", product=product,
                                   form=request.form, rows=variants_from_form(request.form),
                                   tree=tree, surface="store"), 400
        try:
            db.session.commit()
        except IntegrityError:
            # Someone saved the same SKU a moment ago (the unique index caught it).
            db.session.rollback()
            flash(_l("A SKU of this product was just taken by another product; "
                     "please check the SKUs."), "error")
            return redirect(request.url)
        flash(_l("Product saved."), "success")
        return redirect(url_for("manage.local_product_edit", product_id=product.id))
    rows = [service.VariantInput(id=v.id, sku=v.sku, options=service.format_options(v.options),
                                 barcode=v.barcode or "",
                                 price=yuan_text(v.price_fen),
                                 compare_at=yuan_text(v.compare_at_fen))
            for v in (product.variants if product else [])]
    return render_template("catalogue/product_form.html", product=product, form=None, rows=rows,
                           tree=tree, surface="store")


@bp.route("/products/new", methods=["GET", "POST"])
@manager_required
def local_product_new():
    return _local_form()


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@manager_required
def local_product_edit(product_id):
    return _local_form(load_product(product_id, g.store.id))


@bp.post("/products/<int:product_id>/images")
@manager_required
def local_image_upload(product_id):
    from ..hq.products import _upload_image

    return _upload_image(load_product(product_id, g.store.id), "manage.local_product_edit")


@bp.post("/products/<int:product_id>/images/<int:image_id>/<any(up,down,delete):action>")
@manager_required
def local_image_move(product_id, image_id, action):
    from ..hq.products import move_image

    move_image(load_product(product_id, g.store.id), image_id, action)
    return redirect(url_for("manage.local_product_edit", product_id=product_id))


# -- API keys ----------------------------------------------------------------------------------


@bp.route("/api-keys", methods=["GET", "POST"])
@manager_required
def api_keys():
    plain = None
    if request.method == "POST":
        try:
            _row, plain = service.create_api_key(g.store, request.form.get("name", ""),
                                                 current_user.id)
            db.session.commit()
            flash(_l("Key created. Copy it now: it will not be shown again."), "success")
        except service.CatalogueError as exc:
            flash(exc.messages[0], "error")
    page = page_number()
    keys, total = service.api_key_page(page=page, per_page=KEYS_PER_PAGE)
    return render_template("manage/listings/api_keys.html", keys=keys, total=total, page=page,
                           per_page=KEYS_PER_PAGE, plain=plain)


@bp.post("/api-keys/<int:key_id>/revoke")
@manager_required
def api_key_revoke(key_id):
    row = db.session.get(StoreApiKey, key_id)
    if row is None:
        abort(404)
    service.revoke_api_key(row)
    db.session.commit()
    flash(_l("Key revoked; tills using it are refused from now on."), "success")
    return redirect(url_for("manage.api_keys"))
