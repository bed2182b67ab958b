"""Whose origin a user's server runs on: the hub's configuration with and without a host
name ([hub] host), the service's session cookie, the servers' closed routes, and parents,
who get no server at all."""

from __future__ import annotations

import asyncio
import logging
import os
from argparse import Namespace
from types import SimpleNamespace

import pytest
from traitlets.config import Config

from sabaq.hub.jupyterhub import hubconfig
from sabaq.hub.jupyterhub.hubconfig import OWN_SERVER, ParentHasNoServer, configure, spawn_policy
from sabaq.i18n import translator
from sabaq.settings import Settings, SettingsError


def settings_for(tmp_path, **env) -> Settings:
    environ = {"SABAQ_HUB_PROXY_COMMAND": "/bin/true", "SABAQ_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}"}
    environ.update({f"SABAQ_{k.upper()}": v for k, v in env.items()})
    return Settings.load(data_dir=tmp_path, environ=environ)


def hub_config(settings: Settings) -> Config:
    c = Config()
    configure(c, settings)
    return c


@pytest.mark.parametrize("host, public_url, subdomain_host, public", [
    ("", "", "", "http://127.0.0.1:8000/"),
    ("localhost", "", "http://localhost:8000", "http://localhost:8000/"),
    ("localhost:8123", "", "http://localhost:8123", "http://localhost:8123/"),
    ("school.localhost", "", "http://school.localhost:8000", "http://school.localhost:8000/"),
    ("Sabaq.School.kz", "", "https://sabaq.school.kz", "https://sabaq.school.kz/"),
    ("http://sabaq.school.lan", "", "http://sabaq.school.lan", "http://sabaq.school.lan/"),
    ("sabaq.school.kz", "https://sabaq.school.kz:8443/", "https://sabaq.school.kz:8443", "https://sabaq.school.kz:8443/"),
])
def test_a_host_name_gives_the_hub_its_subdomain_host(tmp_path, host, public_url, subdomain_host, public):
    s = settings_for(tmp_path, hub_host=host, sabaq_public_url=public_url)
    assert s.subdomain_host == subdomain_host
    assert s.public_url == public


@pytest.mark.parametrize("host, words", [
    ("192.168.1.10", "not a host name"),
    ("school_kz", "not a host name"),
    ("ftp://school.kz", "not a host name"),
    ("school.kz:http", "not a host name"),
])
def test_a_host_that_cannot_have_names_under_it_is_refused(tmp_path, host, words):
    with pytest.raises(SettingsError, match=words):
        settings_for(tmp_path, hub_host=host)


def test_public_url_and_host_must_name_one_host(tmp_path):
    with pytest.raises(SettingsError, match="different hosts"):
        settings_for(tmp_path, hub_host="sabaq.school.kz", sabaq_public_url="https://other.kz/")


def test_sabaq_up_host_option_sets_the_setting(tmp_path, monkeypatch):
    from sabaq.cli.common import settings_of

    monkeypatch.delenv("SABAQ_HUB_HOST", raising=False)
    monkeypatch.setattr(os, "environ", dict(os.environ))  # settings_of passes it on to the hub's children
    s = settings_of(Namespace(data=str(tmp_path), config=None, port=8123, host="localhost"))
    assert s.subdomain_host == "http://localhost:8123"
    assert os.environ["SABAQ_HUB_HOST"] == "localhost"


def test_without_a_host_servers_share_the_hubs_address_and_admit_only_their_owner(tmp_path):
    c = hub_config(settings_for(tmp_path))
    assert "subdomain_host" not in c.JupyterHub and "cookie_host_prefix_enabled" not in c.JupyterHub
    assert OWN_SERVER in c.JupyterHub.custom_scopes
    user_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "user")
    assert f"{OWN_SERVER}!user" in user_role["scopes"]
    # the server's OAuth client hands out the scope for whoever logs in; (pre-spawn) the server asks for its owner's
    assert c.Spawner.oauth_client_allowed_scopes == [f"{OWN_SERVER}!user"]
    assert callable(c.Spawner.pre_spawn_hook)


@pytest.mark.parametrize("host, origin, host_cookies", [
    ("school.example", "https://school.example", True),
    ("localhost", "http://localhost:8000", False),  # Secure cookies: https only
    ("http://school.lan", "http://school.lan", False),
])
def test_with_a_host_every_user_has_an_origin_of_their_own(tmp_path, host, origin, host_cookies):
    from jupyterhub.app import JupyterHub

    c = hub_config(settings_for(tmp_path, hub_host=host))
    assert c.JupyterHub.subdomain_host == origin
    assert c.JupyterHub.cookie_host_prefix_enabled is host_cookies
    assert "oauth_client_allowed_scopes" not in c.Spawner  # admins may open servers on their own origins
    domain = origin.split("://")[1].split(":")[0]
    hub = JupyterHub(config=c)  # the traits as the hub reads them
    assert hub.subdomain_host == origin and hub.public_url == origin + "/"
    assert hub.subdomain_hook("aliya", domain, "user") == f"aliya.{domain}"
    dotted = hub.subdomain_hook("dana.abenova", domain, "user")
    assert dotted.endswith(f".{domain}") and "." not in dotted[:-len(domain) - 1]  # one label of its own
    # sabaq's pages stay at the hub's address (/services/sabaq/)
    assert hub.subdomain_hook("sabaq", domain, "service") == domain
    # `sabaq up` starts the service, not the hub: its callback is the one it uses by itself
    assert c.JupyterHub.services[0]["oauth_redirect_uri"] == "/services/sabaq/oauth_callback"


def test_kubernetes_takes_the_host_from_the_settings_or_the_chart(tmp_path):
    from sabaq.hub.jupyterhub.hubconfig import configure_kubernetes

    c = Config()
    configure_kubernetes(c, settings_for(tmp_path, hub_host="school.example"))
    assert c.JupyterHub.subdomain_host == "https://school.example" and c.JupyterHub.cookie_host_prefix_enabled
    # the service is not started by the hub there: its callback is the one it uses by itself
    assert c.JupyterHub.services[0]["oauth_redirect_uri"] == "/services/sabaq/oauth_callback"
    c = Config()
    c.JupyterHub.subdomain_host = "https://jupyter.district.kz"
    configure_kubernetes(c, settings_for(tmp_path))
    assert c.JupyterHub.subdomain_host == "https://jupyter.district.kz"
    assert c.JupyterHub.subdomain_hook("sabaq", "jupyter.district.kz", "service") == "jupyter.district.kz"
    c = Config()
    configure_kubernetes(c, settings_for(tmp_path))
    assert "subdomain_host" not in c.JupyterHub and c.Spawner.oauth_client_allowed_scopes == [f"{OWN_SERVER}!user"]
    c = Config()
    c.JupyterHub.subdomain_host = "school.example/"  # the chart's value and the settings' agree
    configure_kubernetes(c, settings_for(tmp_path, hub_host="school.example"))
    assert c.JupyterHub.subdomain_host == "https://school.example"
    c = Config()
    c.JupyterHub.subdomain_host = "https://a.kz"
    with pytest.raises(SettingsError, match="differ"):
        configure_kubernetes(c, settings_for(tmp_path, hub_host="b.kz"))


@pytest.mark.parametrize("host, name, path, secure", [
    ("", "sabaq-session", "/services/sabaq/", False),
    ("school.example", "__Host-sabaq-session", "/", True),
    ("localhost", "sabaq-session", "/services/sabaq/", False),
    ("http://school.lan", "sabaq-session", "/services/sabaq/", False),
])
def test_the_services_session_cookie_cannot_be_set_from_a_users_subdomain(tmp_path, host, name, path, secure):
    from sabaq.hub.service.app import session_cookie

    assert session_cookie(settings_for(tmp_path, hub_host=host)) == {
        "session_cookie": name, "path": path, "https_only": secure}


def test_the_services_pages_are_not_framed_by_other_origins(tmp_path):
    import httpx

    from sabaq.hub.service.app import create_app
    from sabaq.hub.store.database import upgrade

    s = settings_for(tmp_path, service_api_token="t" * 32)
    upgrade(s.database_url)
    app = create_app(s)  # its lifespan (the hub sync) is not started by this transport

    async def get():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sabaq") as c:
            return await c.get("/services/sabaq/health")

    r = asyncio.run(get())
    app.state.engine.dispose()
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == "frame-ancestors 'self'"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"


def test_servers_serve_no_labextension_of_their_user_without_a_login():
    from jupyter_core.paths import jupyter_data_dir

    from sabaq.hub.jupyterhub.spawner import SabaqSpawner, closed_route_args

    args = closed_route_args()
    folders = [a.split("=", 1)[1] for a in args]
    assert all(a.startswith("--LabServerApp.labextensions_path=") for a in args)
    assert os.path.join(os.sys.prefix, "share", "jupyter", "labextensions") in folders  # JupyterLab's own, nbgrader's
    assert not any(f.startswith((os.path.expanduser("~"), jupyter_data_dir())) for f in folders)
    spawner = SabaqSpawner(args=["--debug"])
    assert spawner.get_args()[:1 + len(args)] == ["--debug", *args]  # then the language's settings folder


# --- parents ---------------------------------------------------------------------------


@pytest.fixture
def people(db_url):
    from sabaq.hub.domain import accounts, courses
    from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope
    from sabaq.hub.store.models import Role

    engine = make_engine(db_url)
    with session_scope(make_sessionmaker(engine)) as db:
        course = courses.create_course(db, "phys9", "Physics 9")
        child = accounts.create_user(db, "aliya")
        courses.set_member(db, course, child, Role.student)
        courses.link_guardian(db, accounts.create_user(db, "nurlan"), child)
        courses.link_guardian(db, accounts.create_user(db, "gulnar", language="kk"), child)
        teacher_parent = accounts.create_user(db, "aigul")
        courses.set_member(db, course, teacher_parent, Role.teacher)
        courses.link_guardian(db, teacher_parent, child)
        courses.link_guardian(db, accounts.create_user(db, "director", is_admin=True), child)
    engine.dispose()
    return db_url


def fake_spawner(name, accept_language=None, groups=()):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    return SimpleNamespace(
        user=SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups]),
        handler=SimpleNamespace(request=SimpleNamespace(headers=headers)),
        log=logging.getLogger("test"), oauth_access_scopes=["access:servers!server=x/"],
        environment={"SABAQ_SERVICE_URL": "http://sabaq:8080/"},
    )


def test_only_a_parent_is_refused_a_server_in_their_language(people, tmp_path):
    from sabaq.hub.domain import accounts
    from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope

    hook = spawn_policy(settings_for(tmp_path, database_url=people), owner_only=True)
    with pytest.raises(ParentHasNoServer) as refused:
        asyncio.run(hook(fake_spawner("nurlan", "ru-RU,ru;q=0.9")))
    assert refused.value.status_code == 403
    _ = translator("ru")
    assert _(hubconfig.PARENT_TEXT) in refused.value.jupyterhub_message
    assert _(hubconfig.PARENT_TEXT) != hubconfig.PARENT_TEXT  # translated
    assert 'href="/services/sabaq/"' in refused.value.jupyterhub_html_message
    assert _(hubconfig.PARENT_LINK) in refused.value.jupyterhub_html_message
    with pytest.raises(ParentHasNoServer) as refused:  # her own language before the browser's
        asyncio.run(hook(fake_spawner("gulnar", "ru-RU")))
    assert translator("kk")(hubconfig.PARENT_TEXT) in refused.value.jupyterhub_message

    for name in ("aliya", "aigul", "director", "someone-new"):  # a child, a teacher who is a parent, an admin
        spawner = fake_spawner(name)
        asyncio.run(hook(spawner))
        assert spawner.oauth_access_scopes == [f"{OWN_SERVER}!user={name}"]
    spawner = fake_spawner("aliya")
    asyncio.run(spawn_policy(settings_for(tmp_path, database_url=people), owner_only=False)(spawner))
    assert spawner.oauth_access_scopes == ["access:servers!server=x/"]  # JupyterHub's own, with subdomains

    engine = make_engine(people)
    with session_scope(make_sessionmaker(engine)) as db:
        assert accounts.only_a_parent(db, accounts.get_user(db, "nurlan"))
        assert not accounts.only_a_parent(db, accounts.get_user(db, "aigul"))
    engine.dispose()


def test_each_server_is_told_its_users_language_kubernetes_too(people, tmp_path):
    """On Kubernetes the image's server config reads it (labsettings.SERVER_CONFIG)."""
    from sabaq.hub.domain import accounts
    from sabaq.hub.store.database import make_engine, make_sessionmaker, session_scope

    engine = make_engine(people)
    with session_scope(make_sessionmaker(engine)) as db:
        accounts.get_user(db, "aigul").language = "ru"
    engine.dispose()
    hook = spawn_policy(settings_for(tmp_path, database_url=people), owner_only=False)
    spawners = {name: fake_spawner(name) for name in ("aliya", "aigul", "someone-new")}
    for spawner in spawners.values():
        asyncio.run(hook(spawner))
    assert spawners["aliya"].environment["SABAQ_LANG"] == "kk"  # her course's language
    assert spawners["aigul"].environment["SABAQ_LANG"] == "ru"  # her own choice first
    assert "SABAQ_LANG" not in spawners["someone-new"].environment  # the chart's default stays
    assert spawners["aliya"].environment["SABAQ_SERVICE_URL"] == "http://sabaq:8080/"  # kept


def test_without_sabaqs_database_the_hubs_groups_decide(tmp_path):
    hook = spawn_policy(settings_for(tmp_path, database_url=f"sqlite:///{tmp_path}/missing/x.sqlite"),
                        owner_only=True)
    with pytest.raises(ParentHasNoServer):
        asyncio.run(hook(fake_spawner("nurlan", groups=["sabaq-parents"])))
    asyncio.run(hook(fake_spawner("aigul", groups=["sabaq-parents", "formgrade-phys9"])))
