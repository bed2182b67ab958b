"""What a user's server is spared at each start (sabaq.hub.jupyterhub.lightstart): a read-only
extension manager, no search for language servers when none is installed, and the role's own
server extensions still in force (checked on a real Jupyter server, started with these
arguments, in tests/test_light_start_server.py: not in this quick tier)."""

from __future__ import annotations

import pytest

from sabaq.hub.jupyterhub import lightstart


@pytest.fixture
def no_language_servers(monkeypatch):
    monkeypatch.setattr(lightstart, "language_servers_installed", lambda: False)


def test_a_server_is_told_to_skip_what_nobody_uses(no_language_servers):
    args = lightstart.light_start_args()
    assert "--LabApp.extension_manager=readonly" in args
    assert "--LanguageServerManager.autodetect=False" in args


def test_an_installed_language_server_is_still_searched_for(monkeypatch):
    monkeypatch.setattr(lightstart, "language_servers_installed", lambda: True)
    args = lightstart.light_start_args()
    assert not any("LanguageServerManager" in a for a in args)
    assert "--LabApp.extension_manager=readonly" in args


def test_the_search_for_language_servers_runs_once_and_answers_a_yes_or_no():
    lightstart.language_servers_installed.cache_clear()
    first = lightstart.language_servers_installed()
    assert isinstance(first, bool)
    assert lightstart.language_servers_installed.cache_info().hits == 0
    assert lightstart.language_servers_installed() is first
    assert lightstart.language_servers_installed.cache_info().hits == 1
