"""Class lists: Kazakh and Russian names, Excel's quirks, and a clear report of bad rows."""

from sqlalchemy import func, select

from sabaq.hub.domain import accounts, courses, rosters
from sabaq.hub.store.models import Guardian, Membership, Role, User
from sabaq.i18n import translator


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_import_kazakh_and_russian_names(db):
    course = courses.create_course(db, "alg7", "Алгебра 7")
    data = (
        "full_name,role,class,parent_of\n"
        "Әлия Нұрланқызы,оқушы,7А,\n"
        "Пётр Щукин,ученик,7Б,\n"
        "Айгүл Серікқызы,мұғалім,,\n"
        "Нұрлан Сейітов,ата-ана,,aliya.nurlanqyzy\n"
    ).encode("utf-8-sig")  # Excel's BOM
    report = rosters.import_roster(db, course, data, by=None)
    assert report.ok, report.errors
    logins = {c["login"]: c for c in report.created}
    assert set(logins) == {"aliya.nurlanqyzy", "petr.schukin", "aigul.serikqyzy", "nurlan.seiitov"}
    aliya = accounts.get_user(db, "aliya.nurlanqyzy")
    assert aliya.full_name == "Әлия Нұрланқызы"
    assert accounts.authenticate(db, "aliya.nurlanqyzy", logins["aliya.nurlanqyzy"]["password"]) is not None
    assert courses.role_in(db, aliya, course) == Role.student
    assert courses.role_in(db, accounts.get_user(db, "aigul.serikqyzy"), course) == Role.teacher
    parent = accounts.get_user(db, "nurlan.seiitov")
    assert courses.role_in(db, parent, course) is None
    assert [c.name for c in courses.children_of(db, parent)] == ["aliya.nurlanqyzy"]
    section = db.scalar(select(Membership.section).where(Membership.user_id == aliya.id))
    assert section == "7А"


def test_semicolons_and_russian_headers(db):
    course = courses.create_course(db, "c", "C")
    data = "ФИО;логин;роль;класс;пароль\nИван Петров;ivan;ученик;8В;Secret-pass-1\n".encode()
    report = rosters.import_roster(db, course, data, by=None)
    assert report.ok, report.errors
    assert accounts.authenticate(db, "ivan", "Secret-pass-1").full_name == "Иван Петров"
    assert "password" not in report.created[0] or report.created[0]["password"] == "Secret-pass-1"


def test_windows_1251_is_read_with_a_warning(db):
    course = courses.create_course(db, "c", "C")
    report = rosters.import_roster(db, course, "full_name\nСергей Ким\n".encode("cp1251"), by=None)
    assert report.ok
    assert report.created[0]["full_name"] == "Сергей Ким"
    assert "CSV UTF-8" in report.as_dict(translator("en"))["warnings"][0]["message"]


def test_bad_rows_change_nothing_and_are_all_reported(db):
    course = courses.create_course(db, "c", "C")
    db.commit()
    users_before = count(db, User)
    data = (
        "login,full_name,role,password,parent_of\n"
        "good,Good Pupil,student,,\n"
        "Bad Login!,X,student,,\n"
        "dup,A,student,,\n"
        "dup,B,student,,\n"
        "c,C,director,,\n"
        "p,Parent,parent,,nobody\n"
        "short,S,student,abc,\n"
    ).encode()
    report = rosters.import_roster(db, course, data, by=None)
    assert not report.ok
    lines = sorted(e["line"] for e in report.errors)
    assert lines == [3, 5, 6, 7, 8], report.errors  # every bad row at once
    messages = report.as_dict(translator("ru"))["errors"]
    assert any("Неизвестная роль «director»" in m["message"] for m in messages)
    assert count(db, User) == users_before and count(db, Membership) == 0
    # once the roles are fixed the remaining problems are reported, still nothing written
    fixed = data.replace(b"director", b"student")
    report = rosters.import_roster(db, course, fixed, by=None)
    assert sorted(e["line"] for e in report.errors) == [3, 5, 7, 8]
    assert count(db, User) == users_before and count(db, Guardian) == 0


def test_unknown_column_and_empty_file(db):
    course = courses.create_course(db, "c", "C")
    assert "Unknown column 'shoe size'" in rosters.import_roster(db, course, b"full_name,shoe size\nA,42\n", by=None) \
        .as_dict(translator("en"))["errors"][0]["message"]
    assert not rosters.import_roster(db, course, b"", by=None).ok


def test_reimport_updates_without_duplicates(db):
    course = courses.create_course(db, "c", "C")
    rosters.import_roster(db, course, "full_name,class\nӘлия Нұрланқызы,7А\n".encode(), by=None)
    report = rosters.import_roster(db, course, "full_name,class\nӘлия Нұрланқызы,8А\n".encode(), by=None)
    assert report.ok and not report.created and report.updated[0]["login"] == "aliya.nurlanqyzy"
    assert count(db, User) == 1
    # a different person whose name transliterates the same gets a numbered login
    report = rosters.import_roster(db, course, "full_name\nАлия Нурланкызы\n".encode(), by=None)
    assert report.created[0]["login"] == "aliya.nurlankyzy"
    report = rosters.import_roster(db, course, "full_name\nӘлия Нұрланқызы\nӘлия  Нұрланқызы \n".encode(), by=None)
    assert not report.ok  # the same generated login twice in one file
