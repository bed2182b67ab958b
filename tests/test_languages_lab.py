"""JupyterLab and the hub's pages in the user's language (issue 16): a Kazakh student's
JupyterLab shows Kazakh menus, a Russian one's Russian, an English one's English; the hub's
"starting your server", home and error pages speak the reader's language.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from browsing import log_in
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser]
SHOTS = Path(os.environ.get("SABAQ_SCREENSHOTS", "/tmp/sabaq-screenshots"))
MENUS = {
    "kk": ["Файл", "Түзету", "Көрініс", "Орындау", "Ядро"],
    "ru": ["Файл", "Редактировать", "Просмотр", "Выполнить", "Ядро"],
    "en": ["File", "Edit", "View", "Run", "Kernel"],
}


def hub_page(name: str, **values) -> str:
    """A hub page as JupyterHub renders it with sabaq's templates and texts (hubconfig)."""
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader
    from jupyterhub.app import JupyterHub

    from sabaq.hub.jupyterhub.hubconfig import HUB_TEMPLATES, login_page_texts

    default = JupyterHub()._template_paths_default()[0]
    env = Environment(loader=ChoiceLoader([PrefixLoader({"templates": FileSystemLoader([default])}, "/"),
                                           FileSystemLoader([str(HUB_TEMPLATES), default])]), autoescape=True)
    env.globals["static_url"] = lambda path, **kw: "/hub/static/" + path
    namespace = dict(base_url="/hub/", prefix="/", user=None, login_url="/hub/login", logout_url="/hub/logout",
                     services=[], parsed_scopes=set(), expanded_scopes=set(), xsrf="x", xsrf_token="x",
                     static_url=env.globals["static_url"], version_hash="", sabaq_login=login_page_texts("en"))
    namespace.update(values)
    return env.get_template(name).render(**namespace)


def open_page(browser, html: str, locale: str, cookie: str | None = None):
    context = browser.new_context(locale=locale)
    if cookie:
        context.add_cookies([{"name": "sabaq-lang", "value": cookie, "url": "http://hub.test/"}])
    page = context.new_page()
    page.route("http://hub.test/**", lambda route: route.fulfill(
        status=200, body=html, content_type="text/html") if route.request.url.endswith("/page")
        else route.fulfill(status=404, body=""))
    page.goto("http://hub.test/hub/page")
    return context, page


class FakeUser:
    """What the hub's templates read of a logged-in user."""

    name = "aigerim"
    admin = False

    class spawner:  # noqa: N801
        name = ""
        active = False
        ready = False
        pending = None


def test_the_hubs_starting_page_speaks_the_readers_language(chromium):
    html = hub_page("spawn_pending.html", user=FakeUser(), progress_url="/nowhere")
    for locale, cookie, started in (("kk-KZ", None, "Серверіңіз іске қосылып жатыр."),
                                    ("ru-RU", None, "Ваш сервер запускается."),
                                    ("en-US", "ru", "Ваш сервер запускается."),  # chosen on sabaq's pages
                                    ("en-US", None, "Your server is starting up.")):
        context, page = open_page(chromium, html, locale, cookie)
        expect(page.locator(".text-center p").first).to_have_text(started)
        expect(page.locator("html")).to_have_attribute("lang", cookie or locale[:2])
        context.close()
    context, page = open_page(chromium, html, "kk-KZ")
    expect(page.locator("#stop-server-btn")).to_have_text("Серверді тоқтату")
    expect(page.locator("#progress-details summary")).to_have_text("Оқиғалар журналы")
    context.close()


def test_the_hubs_home_and_error_pages_speak_the_readers_language(chromium):
    class Server:
        active = False

    html = hub_page("home.html", user=FakeUser(), default_server=Server(), url="/hub/spawn",
                    allow_named_servers=False, named_server_limit_per_user=0, spawner_options={})
    context, page = open_page(chromium, html, "kk-KZ")
    expect(page.locator("#start")).to_have_text("Серверімді іске қосу")
    expect(page.locator("#logout")).to_contain_text("Шығу")
    context.close()
    html = hub_page("404.html", status_code=404, status_message="Not Found")
    context, page = open_page(chromium, html, "ru-RU")
    expect(page.locator("h1")).to_have_text("404 : Страница не найдена")
    expect(page.locator(".error")).to_contain_text("По этому адресу страницы нет. Проверьте ссылку.")
    expect(page.get_by_role("link", name="Перейти на главную страницу")).to_have_attribute("href", "/hub/home")
    context.close()
    html = hub_page("error.html", status_code=503, status_message="Service Unavailable")
    context, page = open_page(chromium, html, "kk-KZ")
    expect(page.locator("h1")).to_have_text("503 : Қызмет уақытша қолжетімсіз")
    expect(page.locator(".error")).to_contain_text("Бір минут күтіп, бетті жаңартыңыз.")
    context.close()


@pytest.mark.e2e
def test_each_students_jupyterlab_starts_in_her_language(chromium, stack):
    """The browser asks for English every time: the language is the student's own in sabaq."""
    from sabaq.hub.domain.accounts import create_user

    passwords = {}
    with stack.sessions()() as db:
        for lang in MENUS:
            passwords[lang] = f"lang-{lang}-password-1"
            create_user(db, f"lang{lang}", full_name=f"Lang {lang}", password=passwords[lang], language=lang)
        db.commit()
    for lang, menus in MENUS.items():
        context, page = log_in(chromium, stack, f"lang{lang}", password=passwords[lang],
                               next_url="/hub/user-redirect/lab", timeout_ms=180_000)
        page.wait_for_url(re.compile(rf".*/user/lang{lang}/lab.*"))
        labels = page.locator(".lm-MenuBar-itemLabel")
        expect(labels.first).to_have_text(menus[0], timeout=180_000)
        texts = labels.all_inner_texts()
        assert all(m in texts for m in menus), (lang, texts)
        expect(page.locator("html")).to_have_attribute("lang", {"kk": "kk-KZ", "ru": "ru-RU", "en": "en"}[lang])
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"lab-{lang}.png"))
        context.close()
