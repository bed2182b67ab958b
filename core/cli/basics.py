"""sabaq's own commands: its settings and its translations."""

from __future__ import annotations

from sabaq.cli.common import settings_of


def config_show(args) -> int:
    print(settings_of(args).to_toml(mask_secrets=True), end="")
    return 0


def i18n_check(args) -> int:
    from sabaq.i18n.tools import problems

    found = [line for lang in ("kk", "ru") for line in problems(lang)]
    print("\n".join(found) if found else "every message is translated into kk and ru")
    return 1 if found else 0


def i18n_update(args) -> int:
    from sabaq.i18n.tools import update

    for lang in ("kk", "ru"):
        print(f"{lang}.po: {update(lang)} new messages to translate")
    return 0


def add_commands(commands) -> None:
    commands.action("config", "settings", "show", "print the effective settings, secrets masked", config_show)
    commands.action("i18n", "translations", "check", "list messages kk.po or ru.po lack", i18n_check, common=False)
    commands.action("i18n", "translations", "update", "add new messages (untranslated) to kk.po and ru.po",
                    i18n_update, common=False)
