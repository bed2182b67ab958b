"""Logging in to the hub in headless Chromium, as every browser test begins."""

from __future__ import annotations

DESKTOP = {"viewport": {"width": 1400, "height": 900}}


def log_in(browser, stack, name: str, *, password: str | None = None, locale: str = "en-US",
           next_url: str | None = None, device: dict | None = None, timeout_ms: int = 120_000,
           tap: bool = False):
    """(context, page): a new browser context in which ``name`` has sent the hub's login form
    (``next_url``: where the hub then leads; ``device``: Playwright's context options, a
    desktop window by default; ``tap``: a touch, as on a phone). The page is wherever the
    login led; callers wait for what they expect there."""
    context = browser.new_context(locale=locale, **(device or DESKTOP))
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.goto(f"{stack.url}/hub/login" + (f"?next={next_url}" if next_url else ""))
    page.fill("#username_input", name)
    page.fill("#password_input", password or stack.logins[name])
    submit = page.locator("#login_submit")
    if tap:
        submit.tap()
    else:
        submit.click()
    return context, page
