"""Product pictures in the storefront: thumbnails on cards, every picture on the product page."""

from __future__ import annotations

import io
import re

import pytest
from catalogue_helpers import make_product
from PIL import Image

from shopbuilder import settings as settings_store
from shopbuilder.extensions import db
from shopbuilder.models import ProductImage, Store
from shopbuilder.testing import in_app, login

COLOURS = ((200, 30, 30), (30, 160, 30), (30, 30, 200))


def png(colour, size=(1200, 900)):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def hq(app, chain, hq_user):
    browser = app.test_client()
    browser.set_cookie("lang", "en")
    login(browser, hq_user, chain=chain)
    return browser


@pytest.fixture
def pictured(app, chain, hq):
    """A published product with three pictures uploaded through HQ, in that order."""
    pid = make_product(app, chain, "Dragon Well", skus=[("DW-1", "128")], publish="all")
    for colour in COLOURS:
        response = hq.post(f"/hq/{chain.slug}/products/{pid}/images",
                           data={"image": (io.BytesIO(png(colour)), "tea.png")},
                           content_type="multipart/form-data")
        assert response.status_code == 302
    return pid


def pictures(app):
    """(id, path, thumb_path) of every picture, in gallery order."""
    with in_app(app) as session:
        return [(i.id, i.path, i.thumb_path) for i in session.scalars(
            db.select(ProductImage).order_by(ProductImage.position))]


def page(client, url):
    client.set_cookie("lang", "en")
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_cards_show_the_thumbnail_not_the_full_size_picture(app, client, store, pictured):
    (_id, path, thumb), *_rest = pictures(app)
    home = page(client, f"/s/{store.slug}/")
    assert f'src="/media/{thumb}"' in home
    assert f"/media/{path}" not in home


def test_product_page_shows_every_picture_in_order_with_alt_text(app, client, store, pictured):
    found = pictures(app)
    html = page(client, f"/s/{store.slug}/p/{pictured}")
    gallery = html[html.index('<ul class="gallery"'):html.index('<div class="product-body">')]
    large = re.findall(r'<li class="gallery-item" id="picture-(\d)">\s*<img [^>]*'
                       r'src="/media/([^"]+)"[^>]*alt="([^"]+)"', gallery)
    assert large == [(str(n), path, f"Dragon Well, picture {n} of 3")
                     for n, (_id, path, _thumb) in enumerate(found, start=1)]
    # Each picture offers its thumbnail to small screens, and the strip links to each one.
    for _id, path, thumb in found:
        assert f"/media/{thumb} 400w, /media/{path} 1200w" in gallery
    assert [f'href="#picture-{n}"' in gallery for n in (1, 2, 3)] == [True] * 3
    assert 'alt="Show picture 2 of 3"' in gallery
    assert "<script" not in gallery


def test_reordering_pictures_in_hq_reorders_the_cached_gallery(app, client, chain, store, hq,
                                                               pictured):
    first, second, third = pictures(app)
    url = f"/s/{store.slug}/p/{pictured}"
    assert page(client, url).index(first[1]) < page(client, url).index(third[1])
    hq.post(f"/hq/{chain.slug}/products/{pictured}/images/{third[0]}/up")
    html = page(client, url)  # the main picture stays: only the pictures' order changed
    assert html.index(first[1]) < html.index(third[1]) < html.index(second[1])
    hq.post(f"/hq/{chain.slug}/products/{pictured}/images/{third[0]}/up")
    html = page(client, url)
    assert html.index(third[1]) < html.index(first[1]) < html.index(second[1])
    assert f'<meta property="og:image" content="http://localhost/media/{third[1]}"' in html


def test_the_teahouse_theme_shows_the_gallery_too(app, client, store, pictured):
    with in_app(app) as session:
        settings_store.set_store_values(session.get(Store, store.id), "theme",
                                        {"name": "teahouse"})
        session.commit()
    html = page(client, f"/s/{store.slug}/p/{pictured}")
    assert "theme-teahouse" in html and html.count('class="gallery-item"') == 3


def test_a_product_with_one_picture_shows_it_without_a_gallery(app, client, chain, store, hq):
    pid = make_product(app, chain, "Oolong", skus=[("OL-1", "88")], publish="all")
    hq.post(f"/hq/{chain.slug}/products/{pid}/images",
            data={"image": (io.BytesIO(png(COLOURS[0], (600, 800))), "tea.png")},
            content_type="multipart/form-data")
    (_id, path, thumb), = pictures(app)
    html = page(client, f"/s/{store.slug}/p/{pid}")
    assert 'class="gallery"' not in html
    assert f'srcset="/media/{thumb} 300w, /media/{path} 600w"' in html
    assert 'alt="Oolong"' in html
