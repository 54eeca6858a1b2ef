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
PUBLICATIONS_PER_PAGE = 50
STORES_PER_PAGE = 100
KEYS_PER_PAGE = 50


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
        **(_publications(product) if product else {}),
    )


def _publications(product) -> dict:
    """One page of the product's publications (``pub_q`` finds a store, ``pub_page``)."""
    pub_q = request.args.get("pub_q", "").strip()
    pub_page = page_number("pub_page")
    rows, total = service.publications_page(product, pub_q, pub_page, PUBLICATIONS_PER_PAGE)
    return dict(publications=rows, publications_total=total, pub_q=pub_q, pub_page=pub_page,
                publications_per_page=PUBLICATIONS_PER_PAGE,
                has_publications=bool(total) or bool(pub_q))


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


def _chosen_stores(form) -> tuple[list[int], list[str], list]:
    """The stores ticked so far, pasted as slugs, or "all matching the search".

    Returns ``(store ids, unknown slugs, messages)``.
    """
    chosen = [int(s) for s in form.getlist("store_ids") if s.isdigit()]
    errors = []
    slug_ids, unknown = service.stores_by_slugs(g.chain.id, form.get("store_slugs", ""))
    if unknown:
        errors.append(_l("No store of this chain has the slug: %(slugs)s",
                         slugs=", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")))
    chosen += slug_ids
    if form.get("all_matching") == "1" and form.get("store_q", "").strip():
        chosen += service.store_ids_matching(g.chain.id, form["store_q"])
    return sorted(set(chosen)), unknown, errors


def _publish_page(product, values, chosen: list[int], status: int = 200, store_slugs: str = ""):
    """The publish form, with one page of the stores matching the search box.

    Chosen stores are ticked on their page and carried as hidden fields elsewhere;
    pasted slugs that were found are chosen stores from then on, so only the
    unknown ones stay in the box to be corrected.
    """
    store_q = values.get("store_q", "").strip()
    raw_page = values.get("store_page", "1")
    store_page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 1
    stores, stores_total = service.store_page(g.chain.id, store_q, store_page, STORES_PER_PAGE)
    return render_template(
        "hq/products/publish.html", product=product, cities=service.cities_of_chain(g.chain.id),
        stores=stores, stores_total=stores_total, store_q=store_q, store_page=max(store_page, 1),
        stores_per_page=STORES_PER_PAGE, chosen=set(chosen),
        chosen_off_page=[sid for sid in chosen if sid not in {s.id for s in stores}],
        target=values.get("target", "all"), city=values.get("city", ""),
        price=values.get("price", ""), reach=service.stores_reached(product),
        store_slugs=store_slugs,
    ), status


@bp.route("/products/<int:product_id>/publish", methods=["GET", "POST"])
@hq_required
def product_publish(product_id):
    """Choose the stores, preview how many it reaches, confirm.

    Finding stores and turning the store list's pages are buttons of the same form,
    so the stores ticked on one page stay chosen on the next (no script needed).
    """
    product = load_product(product_id, None)
    if request.method == "GET":
        return _publish_page(product, request.args, [])
    form = request.form
    chosen, unknown, errors = _chosen_stores(form)
    slugs_left = "\n".join(unknown)
    if form.get("action") == "find" or form.get("goto_page"):
        values = form.to_dict()
        values["store_page"] = form.get("goto_page") or "1"
        for message in errors:
            flash(message, "error")
        return _publish_page(product, values, chosen, store_slugs=slugs_left)

    target, city, price = form.get("target", "all"), form.get("city", "").strip(), \
        form.get("price", "").strip()
    price_fen = None
    if price:
        try:
            price_fen = parse_yuan(price)
        except ValueError:
            errors.append(_l("The price must be an amount in yuan, such as 12.80."))
    if target not in Publication.TARGETS:
        abort(400)
    if errors:
        for message in errors:
            flash(message, "error")
        return _publish_page(product, form, chosen, 400, slugs_left)
    preview = service.count_reach(g.chain.id, target, city, chosen)
    if preview == 0:
        flash(_l("This choice reaches no store."), "error")
        return _publish_page(product, form, chosen, 400, slugs_left)
    if form.get("confirm") != "1":
        return render_template(
            "hq/products/publish_confirm.html", product=product, target=target, city=city,
            store_ids=chosen if target == "store" else [], price=price, preview=preview,
        )
    try:
        reached = service.publish(product, target, city=city, store_ids=chosen,
                                  price_fen=price_fen)
    except service.CatalogueError as exc:
        db.session.rollback()
        for message in exc.messages:
            flash(message, "error")
        return _publish_page(product, form, chosen, 400, slugs_left)
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
    """Every store's keys, a page at a time; a new key names its store by slug.

    A slug field, not a list of every store: a chain may have thousands.
    """
    plain, status = None, 200
    store_slug = ""
    if request.method == "POST":
        store_slug = request.form.get("store", "").strip()
        store = _store_by_slug(store_slug)
        if store is None:
            flash(_l("No store of this chain has the slug %(slug)s.", slug=store_slug or "—"),
                  "error")
            status = 400
        else:
            try:
                _row, plain = service.create_api_key(store, request.form.get("name", ""),
                                                     current_user.id)
                db.session.commit()
                flash(_l("Key created for %(store)s. Copy it now: it will not be shown again.",
                         store=store.name), "success")
                store_slug = ""
            except service.CatalogueError as exc:
                flash(exc.messages[0], "error")
                status = 400
    q = request.args.get("q", "").strip()
    page = page_number()
    keys, total = service.api_key_page(q, page, KEYS_PER_PAGE)
    return render_template("hq/products/api_keys.html", keys=keys, total=total, page=page,
                           per_page=KEYS_PER_PAGE, q=q, plain=plain,
                           store_slug=store_slug or request.args.get("store", "")), status


def _store_by_slug(slug: str) -> Store | None:
    if not slug:
        return None
    return db.session.scalar(db.select(Store).where(
        Store.chain_id == g.chain.id, db.func.lower(Store.slug) == slug.lower()))


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
