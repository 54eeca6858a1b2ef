"""The store console's menu on a phone: every entry is on the screen, none cut off."""

from __future__ import annotations

from shopbuilder.demo import DEMO_PASSWORD


def test_every_console_menu_entry_is_on_a_phones_screen(live_shop, phone, screenshot):
    phone.goto(f"{live_shop}/s/west-lake/manage/login")
    phone.fill("#email", "manager@west-lake.example")
    phone.fill("#password", DEMO_PASSWORD)
    phone.get_by_role("button").last.click()
    phone.wait_for_load_state()
    phone.goto(f"{live_shop}/s/west-lake/manage/?lang=en")  # English: the longest labels
    entries = phone.evaluate("""() => [...document.querySelectorAll('.console-menu a')].map(
        (a) => [a.textContent.trim(), a.getBoundingClientRect().left,
                a.getBoundingClientRect().right])""")
    screenshot(phone, "manage-menu-phone", full_page=False)
    width = phone.viewport_size["width"]
    assert "Pickups today" in [label for label, _left, _right in entries]
    cut_off = [label for label, left, right in entries if left < 0 or right > width]
    assert not cut_off, f"menu entries past the edge of a {width} px screen: {cut_off}"
