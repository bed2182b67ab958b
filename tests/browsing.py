"""Logging in to the hub in headless Chromium, as every browser test begins."""

from __future__ import annotations

import weakref

import pytest

from sabaq.lessons.pagestate import listen, page_state

DESKTOP = {"viewport": {"width": 1400, "height": 900}}


def log_in(browser, stack, name: str, *, password: str | None = None, locale: str = "en-US",
           next_url: str | None = None, device: dict | None = None, timeout_ms: int = 120_000,
           tap: bool = False):
    """(context, page): a new browser context in which ``name`` has sent the hub's login form
    (``next_url``: where the hub then leads; ``device``: Playwright's context options, a
    desktop window by default; ``tap``: a touch, as on a phone). The page is wherever the
    login led; callers wait for what they expect there."""
    context = browser.new_context(locale=locale, **(device or DESKTOP))
    page = watch(context.new_page())
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


_LOGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # page: its messages (listen)


def watch(page):
    """The page, whose browser messages are kept from now on for :func:`expect_lesson`'s report."""
    _LOGS[page] = listen(page)
    return page


def messages(page) -> list[str]:
    """The browser's messages of a watched page so far (:func:`watch`)."""
    return _LOGS.get(page, [])


def expect_lesson(page, state: str = "started", timeout_ms: int = 180_000, stack=None):
    """Wait until the lesson on the page is ``state`` (sabaq-lessons' data-sabaq-lesson); one that
    is not fails the test with what the page shows (sabaq.lessons.pagestate), the browser's last
    messages if the page is watched, and the end of the stack's log if given."""
    from playwright.sync_api import expect

    try:
        expect(page.locator("[data-sabaq-lesson]")).to_have_attribute("data-sabaq-lesson", state, timeout=timeout_ms)
    except AssertionError:
        seen = page_state(page, messages(page), lines=40)["detail"]
        pytest.fail(f"the lesson was not {state} after {timeout_ms / 1000:g} s; the page showed: {seen}"
                    + (f"\nthe end of sabaq up's log:\n{stack.log_tail()}" if stack is not None else ""))
