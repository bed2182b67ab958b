"""One settings file: defaults, overrides, validation messages, `sabaq config show`."""

import json
import os
import subprocess
import sys

import pytest

from sabaq.settings import Settings, SettingsError, default_settings_text, ensure_secrets


def test_defaults_serve_one_machine(tmp_path):
    s = Settings.load(data_dir=tmp_path, environ={})
    assert s.hub.port == 8000
    assert s.database_url == f"sqlite:///{tmp_path / 'sabaq.sqlite'}"
    assert s.spawner.kind == "system-users"
    assert s.service_url == "http://127.0.0.1:10101/services/sabaq/"
    assert s.public_url == "http://127.0.0.1:8000/"


def test_file_then_environment_override(tmp_path):
    cfg = tmp_path / "sabaq.toml"
    cfg.write_text('[hub]\nport = 9000\n[database]\nurl = "postgresql+psycopg://u:pw@db/sabaq"\n')
    s = Settings.load(data_dir=tmp_path, environ={"SABAQ_HUB_PORT": "9100"})
    assert s.config_file == str(cfg)
    assert s.hub.port == 9100
    assert s.database_url == "postgresql+psycopg://u:pw@db/sabaq"


@pytest.mark.parametrize(
    "toml, expected",
    [
        ('[spawner]\nkind = "docker"\n', ["[spawner] kind", "'system-users'", "'same-user'"]),
        ("[hub]\nport = 70000\n", ["[hub] port", "from 1 to 65535"]),
        ('[hub]\nport = "eighty"\n', ["[hub] port"]),
        ("[hub]\nprot = 8000\n", ["Unknown setting [hub] prot", "port"]),
        ("[hubb]\nport = 8000\n", ["Unknown settings section [hubb]", "[hub]"]),
        ("port = 8000\n", ["must sit inside a [section]"]),
        ("[hub\n", ["not valid TOML"]),
    ],
)
def test_invalid_settings_name_key_and_allowed_values(tmp_path, toml, expected):
    (tmp_path / "sabaq.toml").write_text(toml)
    with pytest.raises(SettingsError) as err:
        Settings.load(data_dir=tmp_path, environ={})
    for part in expected:
        assert part in str(err.value)


def test_invalid_environment_value(tmp_path):
    with pytest.raises(SettingsError, match="SABAQ_WORKER_COUNT"):
        Settings.load(data_dir=tmp_path, environ={"SABAQ_WORKER_COUNT": "many"})


def test_a_bad_setting_is_explained_in_the_operators_language(tmp_path):
    (tmp_path / "sabaq.toml").write_text("[hub]\nport = 70000\n")
    shown = subprocess.run([sys.executable, "-m", "sabaq", "config", "show", "--data", str(tmp_path)],
                           capture_output=True, text=True, env=dict(os.environ, SABAQ_LANG="ru"))
    assert shown.returncode == 2
    assert "Неверная настройка [hub] port = 70000" in shown.stderr and "целое число от 1 до 65535" in shown.stderr
    with pytest.raises(SettingsError) as err:
        Settings.load(data_dir=tmp_path / "other", environ={"SABAQ_GRADING_NOTEBOOK_SECONDS": "2"})
    assert err.value.translated("kk") == ("[grading] notebook_seconds = 2 баптауы қате: "
                                          "рұқсат етілген мәндер — кемінде 5 болатын бүтін сан.")


def test_lists_and_tables_from_environment_variables(tmp_path):
    """Kubernetes and systemd set settings through the environment: lists and tables are JSON."""
    def load(**environ):
        return Settings.load(data_dir=tmp_path, environ=environ)

    assert load(SABAQ_DEMO_ALSO='["olympiad", "physics"]').demo.also == ["olympiad", "physics"]
    assert load(SABAQ_DEMO_ALSO="olympiad, physics").demo.also == ["olympiad", "physics"]
    assert load(SABAQ_DEMO_ALSO="[]").demo.also == []
    profiles = load(SABAQ_KUBERNETES_PROFILES='[{"course": "*", "display_name": "Python", "cpu_limit": 1}]')
    assert profiles.kubernetes.profiles == [{"course": "*", "display_name": "Python", "cpu_limit": 1}]
    with pytest.raises(SettingsError, match="SABAQ_DEMO_ALSO"):
        load(SABAQ_DEMO_ALSO='["olympiad"')
    with pytest.raises(SettingsError, match="SABAQ_KUBERNETES_PROFILES"):
        load(SABAQ_KUBERNETES_PROFILES="python, r")  # a table needs JSON


def test_secrets_generated_once_and_private(tmp_path):
    path = ensure_secrets(tmp_path)
    first = json.loads(path.read_text())
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    ensure_secrets(tmp_path)
    assert json.loads(path.read_text()) == first
    s = Settings.load(data_dir=tmp_path, environ={})
    assert s.service.api_token == first["service"]["api_token"] and len(s.service.api_token) == 64


def test_one_grading_worker_per_core_by_default(tmp_path, monkeypatch):
    # a deadline's submissions are graded side by side; memory bounds it at 4 workers
    for cores, workers in ((1, 1), (2, 2), (3, 3), (16, 4), (None, 1)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert Settings.load(data_dir=tmp_path, environ={}).worker.count == workers
        assert f"# count = {workers}\n" in default_settings_text()
    assert Settings.load(data_dir=tmp_path, environ={"SABAQ_WORKER_COUNT": "0"}).worker.count == 0


def test_default_settings_file_is_valid_and_documented(tmp_path):
    text = default_settings_text()
    assert "# Port of the sabaq service." in text
    (tmp_path / "sabaq.toml").write_text(text)
    assert Settings.load(data_dir=tmp_path, environ={}).hub.port == 8000


def _sabaq(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sabaq", *args], capture_output=True, text=True, env=env)


def test_config_show_masks_secrets(tmp_path):
    ensure_secrets(tmp_path)
    (tmp_path / "sabaq.toml").write_text('[database]\nurl = "postgresql+psycopg://u:hunter2@db/x"\n')
    secret = json.loads((tmp_path / "secrets.json").read_text())["service"]["api_token"]
    out = _sabaq("config", "show", "--data", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "[service]" in out.stdout and "port = 10101" in out.stdout
    assert secret not in out.stdout and "hunter2" not in out.stdout
    assert 'api_token = "********"' in out.stdout


def test_config_show_reports_bad_setting(tmp_path):
    (tmp_path / "sabaq.toml").write_text('[sabaq]\ndefault_language = "de"\n')
    out = _sabaq("config", "show", "--data", str(tmp_path))
    assert out.returncode == 2
    assert "[sabaq] default_language" in out.stderr and "'kk', 'ru', 'en'" in out.stderr
