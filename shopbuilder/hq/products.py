"""HQ's master catalogue: products, variants, images, categories, publishing, API keys."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..auth import hq_required
from ..catalogue_views import category_id_from_form, load_product, page_number, variants_from_form
from ..extensions import db
from ..models import Category, ProductImage, Publication, Store, StoreApiKey
from ..money import parse_yuan, yuan_text
from ..services import catalogue as service
from ..services.product_images import MediaError, save_image
from . import bp

PER_PAGE = 25


@bp.get("/products")
@hq_required
def products():
    q = request.args.get("q", "")
    category = request.args.get("category", "")
    page = page_number()
    rows, total = service.product_page(
        g.chain.id, q=q, page=page, per_page=PER_PAGE,
        category_id=int(category) if category.isdigit() else None,
    )
    return render_template(
        "hq/products/list.html", products=rows, total=total, page=page, per_page=PER_PAGE,
        q=q, category=category, tree=service.category_tree(g.chain.id),
    )


def _product_form(product=None):
    if request.method == "POST":
        try:
            product = service.save_product(
                g.chain.id, title=request.form.get("title", ""),
                description=request.form.get("description", ""),
                category_id=category_id_from_form(request.form),
                status=request.form.get("status", "active"),
                variants=variants_from_form(request.form), product=product,
            )
        except service.CatalogueError as exc:
            db.session.rollback()
            for message in exc.messages:
                flash(message, "error")
            return render_template(
                "catalogue/product_form.html", product=product, form=request.form,
                rows=variants_from_form(request.form), tree=service.category_tree(g.chain.id),
                surface="hq",
            ), 400
        try:
            db.session.commit()
        except IntegrityError:
            # Someone saved the same SKU a moment ago (the unique index caught it).
            db.session.rollback()
            flash(_l("A SKU of this product was just taken by another product; "
                     "please check the SKUs."), "error")
            return redirect(request.url)
        flash(_l("Product saved."), "success")
        return redirect(url_for("hq.product_edit", product_id=product.id))
    rows = [service.VariantInput(id=v.id, sku=v.sku, options=service.format_options(v.options),
                                 barcode=v.barcode or "", price=yuan_text(v.price_fen),
                                 compare_at=yuan_text(v.compare_at_fen))
            for v in (product.variants if product else [])]
    return render_template(
        "catalogue/product_form.html", product=product, form=None, rows=rows,
        tree=service.category_tree(g.chain.id), surface="hq",
        reach=service.stores_reached(product) if product else 0,
        publications=_publications(product) if product else [],
    )


def _publications(product):
    pubs = db.session.scalars(
        db.select(Publication).where(Publication.product_id == product.id)
        .order_by(Publication.target, Publication.city, Publication.id).limit(200)
    ).all()
    names = dict(db.session.execute(
        db.select(Store.id, Store.name).where(
            Store.id.in_([p.store_id for p in pubs if p.store_id])
        )
    ).all()) if pubs else {}
    return [(p, names.get(p.store_id)) for p in pubs]


@bp.route("/products/new", methods=["GET", "POST"])
@hq_required
def product_new():
    return _product_form()


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@hq_required
def product_edit(product_id):
    return _product_form(load_product(product_id, None))


# -- images -------------------------------------------------------------------------------------


def _sync_main_image(product):
    product.image = product.images[0].path if product.images else None


@bp.post("/products/<int:product_id>/images")
@hq_required
def image_upload(product_id):
    product = load_product(product_id, None)
    return _upload_image(product, "hq.product_edit")


def _upload_image(product, endpoint):
    upload = request.files.get("image")
    if upload is None or not upload.filename:
        flash(_l("Choose an image file."), "error")
        return redirect(url_for(endpoint, product_id=product.id))
    try:
        stored = save_image(upload.stream)
    except MediaError as exc:
        flash(str(exc), "error")
        return redirect(url_for(endpoint, product_id=product.id))
    position = max((i.position for i in product.images), default=-1) + 1
    product.images.append(ProductImage(
        chain_id=product.chain_id, position=position, path=stored.path,
        thumb_path=stored.thumb_path, width=stored.width, height=stored.height,
    ))
    _sync_main_image(product)
    db.session.commit()
    flash(_l("Image added."), "success")
    return redirect(url_for(endpoint, product_id=product.id))


def move_image(product, image_id: int, action: str) -> None:
    images = list(product.images)
    index = next((i for i, img in enumerate(images) if img.id == image_id), None)
    if index is None:
        abort(404)
    if action == "delete":
        product.images.remove(images[index])
        images.pop(index)
    elif action == "up" and index > 0:
        images[index - 1], images[index] = images[index], images[index - 1]
    elif action == "down" and index < len(images) - 1:
        images[index + 1], images[index] = images[index], images[index + 1]
    for position, image in enumerate(images):
        image.position = position
    product.images.sort(key=lambda img: img.position)
    _sync_main_image(product)
    db.session.commit()


@bp.post("/products/<int:product_id>/images/<int:image_id>/<any(up,down,delete):action>")
@hq_required
def image_move(product_id, image_id, action):
    move_image(load_product(product_id, None), image_id, action)
    return redirect(url_for("hq.product_edit", product_id=product_id))


# -- publishing ---------------------------------------------------------------------------------


def _publish_choice():
    target = request.form.get("target", "all")
    city = request.form.get("city", "").strip()
    store_ids = [int(s) for s in request.form.getlist("store_ids") if s.isdigit()]
    price = request.form.get("price", "").strip()
    return target, city, store_ids, price


@bp.route("/products/<int:product_id>/publish", methods=["GET", "POST"])
@hq_required
def product_publish(product_id):
    product = load_product(product_id, None)
    store_q = request.args.get("store_q", "").strip()
    stores_stmt = db.select(Store.id, Store.name, Store.city).where(Store.chain_id == g.chain.id)
    if store_q:
        like = f"%{store_q.lower()}%"
        stores_stmt = stores_stmt.where(db.or_(
            db.func.lower(Store.name).like(like), db.func.lower(Store.slug).like(like),
            db.func.lower(Store.city).like(like),
        ))
    stores = db.session.execute(stores_stmt.order_by(Store.city, Store.name).limit(3000)).all()
    context = dict(product=product, cities=service.cities_of_chain(g.chain.id), stores=stores,
                   store_q=store_q, reach=service.stores_reached(product))
    if request.method == "GET":
        return render_template("hq/products/publish.html", **context)

    target, city, store_ids, price = _publish_choice()
    price_fen = None
    if price:
        try:
            price_fen = parse_yuan(price)
        except ValueError:
            flash(_l("The price must be an amount in yuan, such as 12.80."), "error")
            return render_template("hq/products/publish.html", **context), 400
    if target not in Publication.TARGETS:
        abort(400)
    preview = service.count_reach(g.chain.id, target, city, store_ids)
    if preview == 0:
        flash(_l("This choice reaches no store."), "error")
        return render_template("hq/products/publish.html", **context), 400
    if request.form.get("confirm") != "1":
        return render_template(
            "hq/products/publish_confirm.html", product=product, target=target, city=city,
            store_ids=store_ids, price=price, preview=preview,
        )
    try:
        reached = service.publish(product, target, city=city, store_ids=store_ids,
                                  price_fen=price_fen)
    except service.CatalogueError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "error")
        return render_template("hq/products/publish.html", **context), 400
    db.session.commit()
    flash(_l("Published. The product now reaches %(n)s stores.", n=reached), "success")
    return redirect(url_for("hq.product_edit", product_id=product.id))


@bp.route("/products/<int:product_id>/unpublish", methods=["GET", "POST"])
@hq_required
def product_unpublish(product_id):
    product = load_product(product_id, None)
    publication = request.values.get("publication_id", "")
    publication_id = int(publication) if publication.isdigit() else None
    if request.method == "GET" or request.form.get("confirm") != "1":
        return render_template(
            "hq/products/unpublish_confirm.html", product=product,
            publication_id=publication_id, reach=service.stores_reached(product),
        )
    removed = service.unpublish(product, publication_id)
    db.session.commit()
    if publication_id is None:
        flash(_l("Unpublished: the product is hidden in every store."), "success")
    elif removed:
        flash(_l("Publication removed."), "success")
    return redirect(url_for("hq.product_edit", product_id=product.id))


# -- categories ---------------------------------------------------------------------------------


@bp.route("/categories", methods=["GET", "POST"])
@hq_required
def categories():
    if request.method == "POST":
        category = None
        raw_id = request.form.get("category_id", "")
        if raw_id.isdigit():
            category = db.session.get(Category, int(raw_id))
            if category is None:
                abort(404)
        if request.form.get("action") == "delete" and category is not None:
            try:
                service.delete_category(category)
                db.session.commit()
                flash(_l("Category deleted."), "success")
            except service.CatalogueError as exc:
                db.session.rollback()
                flash(exc.messages[0], "error")
            return redirect(url_for("hq.categories"))
        position = request.form.get("position", "0")
        try:
            service.save_category(
                g.chain, request.form.get("name", ""), request.form.get("slug", ""),
                category_id_from_form({"category_id": request.form.get("parent_id", "")}),
                int(position) if position.lstrip("-").isdigit() else 0, category,
            )
            db.session.commit()
            flash(_l("Category saved."), "success")
        except service.CatalogueError as exc:
            db.session.rollback()
            for message in exc.messages:
                flash(message, "error")
        return redirect(url_for("hq.categories"))
    return render_template("hq/products/categories.html", tree=service.category_tree(g.chain.id))


# -- API keys for stores ------------------------------------------------------------------------


@bp.route("/api-keys", methods=["GET", "POST"])
@hq_required
def api_keys():
    plain = None
    if request.method == "POST":
        raw = request.form.get("store_id", "")
        store = db.session.get(Store, int(raw)) if raw.isdigit() else None
        if store is None or store.chain_id != g.chain.id:
            abort(404)
        try:
            row, plain = service.create_api_key(store, request.form.get("name", ""),
                                                current_user.id)
            db.session.commit()
            flash(_l("Key created for %(store)s. Copy it now: it will not be shown again.",
                     store=store.name), "success")
        except service.CatalogueError as exc:
            flash(exc.messages[0], "error")
    keys = db.session.execute(
        db.select(StoreApiKey, Store.name).join(Store, Store.id == StoreApiKey.store_id)
        .order_by(StoreApiKey.id.desc()).limit(200)
    ).all()
    stores = db.session.execute(
        db.select(Store.id, Store.name).where(Store.chain_id == g.chain.id).order_by(Store.name)
    ).all()
    return render_template("hq/products/api_keys.html", keys=keys, stores=stores, plain=plain)


@bp.post("/api-keys/<int:key_id>/revoke")
@hq_required
def api_key_revoke(key_id):
    row = db.session.get(StoreApiKey, key_id)
    if row is None:
        abort(404)
    service.revoke_api_key(row)
    db.session.commit()
    flash(_l("Key revoked; tills using it are refused from now on."), "success")
    return redirect(url_for("hq.api_keys"))
