"""A store manager previews unsaved theme settings in the real browser, then saves them."""

from __future__ import annotations

from shopbuilder.demo import DEMO_PASSWORD


def test_manager_previews_a_new_colour_before_saving_it(live_shop, phone, screenshot):
    phone.goto(f"{live_shop}/s/old-town/manage/login")
    phone.fill("#email", "hq@mingcha.example")
    phone.fill("#password", DEMO_PASSWORD)
    phone.get_by_role("button").last.click()
    phone.wait_for_load_state()
    phone.goto(f"{live_shop}/s/old-town/manage/theme/")
    colour = phone.locator("#accent_colour")
    assert colour.is_visible()
    colour.evaluate("(el) => { el.value = '#0b3d91'; }")
    screenshot(phone, "manage-theme-settings")

    with phone.context.expect_page() as preview_page:
        phone.get_by_role("button", name="预览").click()
    preview = preview_page.value
    preview.wait_for_load_state()
    assert "--accent-colour:#0b3d91" in preview.content()
    assert preview.get_by_role("status").first.is_visible()  # "this is a preview" banner
    preview.close()

    # Nothing was saved by the preview.
    phone.goto(f"{live_shop}/s/old-town/")
    assert "--accent-colour:#0b3d91" not in phone.content()

    phone.goto(f"{live_shop}/s/old-town/manage/theme/")
    phone.locator("#accent_colour").evaluate("(el) => { el.value = '#0b3d91'; }")
    phone.get_by_role("button", name="保存").click()
    phone.wait_for_load_state()
    phone.goto(f"{live_shop}/s/old-town/")
    assert "--accent-colour:#0b3d91" in phone.content()
