"""Every user-visible string is translated into Kazakh and Russian, placeholders intact."""

import pytest

from sabaq.errors import NotFound
from sabaq.i18n import N_, negotiate, translator
from sabaq.i18n.tools import extract_messages, problems


def test_messages_are_found_in_code_and_templates():
    found = extract_messages()
    # one from Python (an error), one from a template, one from the exchange plugin
    assert "There is no course '{course}'. Check the course id." in found
    assert "Who has submitted" in found
    assert "Submissions are kept for good in sabaq and cannot be removed." in found


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_catalog_is_complete(lang):
    assert problems(lang) == []


def test_error_is_translated_for_the_reader():
    err = NotFound(N_("There is no course '{course}'. Check the course id."), course="phys7")
    assert err.translated("en") == "There is no course 'phys7'. Check the course id."
    assert err.translated("ru") == "Курса «phys7» нет. Проверьте идентификатор курса."
    assert err.translated("kk") == "'phys7' курсы жоқ. Курс идентификаторын тексеріңіз."


def test_unknown_language_falls_back_to_english():
    assert translator("de")("Log out") == "Log out"
    assert translator("kk")("Log out") == "Шығу"


@pytest.mark.parametrize(
    "header, expected",
    [
        ("ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        ("kk-KZ,kk;q=0.9", "kk"),
        ("de-DE,en;q=0.5,ru;q=0.7", "ru"),
        ("de-DE", "kk"),
        ("", "kk"),
        ("en;q=0.1,kk;q=0.2", "kk"),
    ],
)
def test_accept_language(header, expected):
    assert negotiate(header, "kk") == expected


def test_the_command_line_speaks_the_readers_language(tmp_path, monkeypatch, capsys):
    """$SABAQ_LANG (set in users' servers) or $LANG chooses the language of sabaq's commands.
    Run as `sabaq` runs them (sabaq.cli.main), in this process: four interpreters started
    for it cost the quick tier 4-7 s; the language is read from the environment at each message."""
    import os

    from sabaq.cli import main

    monkeypatch.setenv("PATH", os.environ["PATH"])  # main() puts sabaq's environment first: put back after

    def sabaq(lang, *args):
        monkeypatch.setenv("SABAQ_LANG", lang)
        code = main([*args, "--data", str(tmp_path)])
        out = capsys.readouterr()
        return code, (out.out + out.err).strip()

    assert sabaq("kk", "db", "upgrade") == (0, "дерекқор жаңартылған")
    assert sabaq("ru", "course", "create", "phys9") == (0, "создан курс phys9")
    assert sabaq("en", "user", "add", "aigerim", "--password", "Tau-Samal-2026") == \
        (0, "created aigerim with password Tau-Samal-2026")
    assert sabaq("ru", "user", "password", "aigerim", "--password", "Qar-Zhauyn-2027") == \
        (0, "пароль aigerim изменён")


def test_the_start_banner_speaks_the_operators_language(tmp_path, monkeypatch):
    from sabaq.hub.jupyterhub.launcher import banner
    from sabaq.settings import Settings

    settings = Settings.load(data_dir=tmp_path, environ={})
    monkeypatch.setenv("SABAQ_LANG", "ru")
    shown = banner(settings, None)
    assert f"sabaq работает: откройте {settings.public_url}" in shown and "Остановить: Ctrl-C" in shown
    monkeypatch.setenv("SABAQ_LANG", "kk")
    assert f"sabaq жұмыс істеп тұр: {settings.public_url} ашыңыз" in banner(settings, None)


def test_an_error_message_cannot_name_a_value_status_or_code():
    """status= and code= are an error's HTTP status and code: a message value named so would be lost."""
    from sabaq.errors import SabaqError

    with pytest.raises(TypeError, match="code"):
        SabaqError(N_("The sandbox did not start (exit code {code})."), code=3)
    assert str(SabaqError("It stopped ({exit_code}).", exit_code=3)) == "It stopped (3)."


def test_the_rehearsal_reports_in_the_operators_language():
    from sabaq.devtools.rehearsal import Rehearsal

    lines = []
    rehearsal = Rehearsal("http://127.0.0.1:9", "unused", out=lines.append, language="kk")
    rehearsal.out(N_("submitted: {count}"), count=4)
    rehearsal.out(N_("every submission was stored and graded"))
    assert lines == ["тапсырылды: 4", "әр жұмыс сақталды және бағаланды"]
