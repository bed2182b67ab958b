"""Each user's JupyterLab starts in her language: sabaq's language → the locale of a language
pack, given to her server as a settings folder on its command line (issue 16)."""

from __future__ import annotations

import pytest
from jupyterlab_server.settings_utils import get_settings

from sabaq.hub.jupyterhub.labsettings import TRANSLATION_PLUGIN, lab_language_args, lab_locale, lab_settings_folder


@pytest.mark.parametrize("language, locale", [("kk", "kk_KZ"), ("ru", "ru_RU"), ("en", "en"), ("ru-RU", "ru_RU"),
                                              ("KK", "kk_KZ"), ("de", "en"), ("", "en")])
def test_a_sabaq_language_names_a_language_packs_locale(language, locale):
    assert lab_locale(language) == locale


@pytest.mark.parametrize("language, locale", [("kk", "kk_KZ"), ("ru", "ru_RU"), ("en", "en")])
def test_the_servers_settings_default_to_her_locale(language, locale):
    """What JupyterLab's settings API answers a server started with these arguments: the
    translation plugin's locale defaults to hers (its own default, "default", would be the
    process's locale, the fork server's for a warm start)."""
    from jupyterlab import labapp

    [arg] = lab_language_args(language)
    assert arg == f"--LabServerApp.app_settings_dir={lab_settings_folder(language)}"
    schemas = labapp.LabApp().schemas_dir
    settings, _ = get_settings(app_settings_dir=str(lab_settings_folder(language)), schemas_dir=schemas,
                               settings_dir="/nonexistent", schema_name=TRANSLATION_PLUGIN)
    assert settings["schema"]["properties"]["locale"]["default"] == locale
    # the control: without the folder, the process's locale ("default")
    settings, _ = get_settings(app_settings_dir="/nonexistent", schemas_dir=schemas, settings_dir="/nonexistent",
                               schema_name=TRANSLATION_PLUGIN)
    assert settings["schema"]["properties"]["locale"]["default"] == "default"


def test_the_spawner_passes_the_users_language_to_her_server():
    from jupyterhub.objects import Hub, Server

    from sabaq.hub.jupyterhub.spawner import SabaqSpawner

    class User:
        name = "aigerim"
        url = "/user/aigerim/"
        groups = []
        server = Server()

    spawner = SabaqSpawner(user=User(), hub=Hub(), isolate=False)
    spawner._home_dir = "/tmp"  # what start() sets before the arguments are asked for
    spawner._lang = "ru"
    assert f"--LabServerApp.app_settings_dir={lab_settings_folder('ru')}" in spawner.get_args()
    spawner._lang = "kk"
    assert any(a.endswith("/lab-settings/kk_KZ") for a in spawner.get_args())


def test_the_images_server_config_starts_jupyterlab_in_the_language_the_hub_names(monkeypatch, tmp_path):
    """Kubernetes: the singleuser image's jupyter_server_config.py (`python -m
    sabaq.hub.jupyterhub.labsettings`) reads SABAQ_LANG, which the hub's pre-spawn hook sets."""
    import subprocess
    import sys

    from traitlets.config import Config

    from sabaq.hub.jupyterhub.labsettings import SERVER_CONFIG, lab_settings_folder

    printed = subprocess.run([sys.executable, "-m", "sabaq.hub.jupyterhub.labsettings"], capture_output=True,
                             text=True, check=True).stdout
    assert printed == SERVER_CONFIG
    monkeypatch.setenv("HOME", str(tmp_path))  # it also writes the role's page config there (serverroles)
    for language, expected in (("ru", "ru_RU"), ("kk", "kk_KZ"), ("", "en")):
        monkeypatch.setenv("SABAQ_LANG", language)
        c = Config()
        exec(compile(printed, "jupyter_server_config.py", "exec"), {"c": c})
        assert c.LabServerApp.app_settings_dir == str(lab_settings_folder(language))
        assert c.LabServerApp.app_settings_dir.endswith(expected)
        assert c.LabApp.extension_manager == "readonly"  # nobody installs extensions into a pod's image
