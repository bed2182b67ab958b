"""Nobody exceeds their role through a class list (issue 14).

A teacher's roster changes the memberships of the teacher's own course only: it never
changes another account's password, name or email, never takes in another course's
student, and links parents only to the teacher's own students. The admin's roster (and
the shell's, the machine's administrator) still updates accounts. The exploits, each a
test: the old import applied every one of them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from test_service_forms import Site

from sabaq.errors import Forbidden
from sabaq.hub.domain import accounts, courses, rosters
from sabaq.hub.store.models import Guardian, Role, User
from sabaq.i18n import translator

ADMIN_PASSWORD = "admin-pass-1"
ALIYA_PASSWORD = "aliya-pass-1"
ATTACK = "Attack-pass-9"


def school(db):
    """Course "mine" (teacher "teacher", student "aliya", aliya's parent "mum"), course
    "other" (teacher "teacher2", student "student2") and the admin."""
    mine = courses.create_course(db, "mine", "Mine")
    other = courses.create_course(db, "other", "Other")
    accounts.create_user(db, "admin", full_name="Administrator", password=ADMIN_PASSWORD, is_admin=True,
                         email="admin@school.kz")
    teacher = accounts.create_user(db, "teacher", full_name="Teacher", password="teacher-pass-1")
    teacher2 = accounts.create_user(db, "teacher2", full_name="Teacher Two", password="teacher2-pass-1")
    aliya = accounts.create_user(db, "aliya", full_name="Әлия", password=ALIYA_PASSWORD, email="aliya@school.kz")
    student2 = accounts.create_user(db, "student2", full_name="Student Two", password="student2-pass-1")
    mum = accounts.create_user(db, "mum", full_name="Mum", password="mum-pass-1")
    courses.set_member(db, mine, teacher, Role.teacher)
    courses.set_member(db, mine, aliya, Role.student, "7A")
    courses.set_member(db, other, teacher2, Role.teacher)
    courses.set_member(db, other, student2, Role.student)
    courses.link_guardian(db, mum, aliya)
    db.flush()
    return mine, other


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def user(db, login: str) -> User:
    return accounts.get_user(db, login)


def guardians(db) -> set[tuple[str, str]]:
    parent, child = User.__table__.alias(), User.__table__.alias()
    rows = db.execute(select(parent.c.name, child.c.name)
                      .join(Guardian, Guardian.parent_id == parent.c.id)
                      .join(child, Guardian.student_id == child.c.id))
    return set(map(tuple, rows))


def warnings(report, lang: str = "ru") -> list[str]:
    return [w["message"] for w in report.as_dict(translator(lang))["warnings"]]


def test_a_teacher_of_another_course_cannot_change_the_admins_password_name_or_email(db):
    _, other = school(db)
    report = rosters.import_roster(db, other, csv(
        "login,full_name,email,password,role",
        f"admin,Hacked,evil@example.com,{ATTACK},student",
        f"admin2,New Pupil,,{ATTACK},student",  # a new login is still created
    ), by=user(db, "teacher2"))
    assert report.ok, report.errors
    assert [c["login"] for c in report.created] == ["admin2"]
    assert report.updated == []
    admin = user(db, "admin")
    assert accounts.authenticate(db, "admin", ATTACK) is None
    assert accounts.authenticate(db, "admin", ADMIN_PASSWORD) is not None
    assert (admin.full_name, admin.email, admin.is_admin) == ("Administrator", "admin@school.kz", True)
    assert courses.role_in(db, admin, other) is None
    # one warning for the row, translated, naming the login and what to do
    [line] = [w["line"] for w in report.warnings]
    assert line == 2
    for lang in ("kk", "ru"):
        [message] = warnings(report, lang)
        assert "admin" in message and message != warnings(report, "en")[0]
    assert "ask the administrator" in warnings(report, "en")[0]


def test_a_teacher_cannot_change_or_take_in_a_student_of_another_course(db):
    mine, other = school(db)
    for role in ("student", "teacher", "assistant"):
        report = rosters.import_roster(db, other, csv(
            "login,full_name,email,password,role,class",
            f"aliya,Renamed,evil@example.com,{ATTACK},{role},9Z",
        ), by=user(db, "teacher2"))
        assert report.ok and report.updated == [] and len(report.warnings) == 1, report.warnings
    aliya = user(db, "aliya")
    assert accounts.authenticate(db, "aliya", ATTACK) is None
    assert accounts.authenticate(db, "aliya", ALIYA_PASSWORD) is not None
    assert (aliya.full_name, aliya.email) == ("Әлия", "aliya@school.kz")
    assert courses.role_in(db, aliya, other) is None and courses.role_in(db, aliya, mine) == Role.student
    # nor another teacher, a parent, or a name-only row whose login is another course's pupil's
    report = rosters.import_roster(db, other, csv("login,role", "teacher,student", "mum,student"),
                                   by=user(db, "teacher2"))
    assert report.ok and report.updated == [] and len(report.warnings) == 2
    report = rosters.import_roster(db, other, csv("full_name", "Әлия"), by=user(db, "teacher2"))
    assert report.ok and not report.created and not report.updated and len(report.warnings) == 1
    assert [c.slug for c, _ in courses.courses_of(db, user(db, "teacher"))] == ["mine"]
    assert courses.role_in(db, user(db, "mum"), other) is None


def test_a_teacher_cannot_become_the_guardian_of_another_courses_child(db):
    _, other = school(db)
    before = guardians(db)
    report = rosters.import_roster(db, other, csv(
        "login,full_name,role,parent_of",
        "teacher2,Teacher Two,parent,aliya",  # herself
        "spy,Spy,parent,aliya",  # a new account she would know the password of
        "student2,Student Two,parent,aliya",  # her own student
        "mum,Mum,parent,student2",  # another course's parent, to her own student
    ), by=user(db, "teacher2"))
    assert report.ok, report.errors
    assert guardians(db) == before == {("mum", "aliya")}
    assert accounts.find_user(db, "spy") is None and not report.created
    assert report.updated == []
    assert len(report.warnings) == 5  # four refused links, and spy not created
    assert all(m != e for m, e in zip(warnings(report, "kk"), warnings(report, "en")))
    assert not courses.can_view_student(db, user(db, "teacher2"), user(db, "aliya"))


def test_the_rule_is_the_same_for_the_api_and_an_assistant_may_not_link(db):
    mine, _ = school(db)
    helper = accounts.create_user(db, "helper")
    courses.set_member(db, mine, helper, Role.assistant)
    dad = accounts.create_user(db, "dad")
    with pytest.raises(Forbidden):
        courses.require_guardian_link(db, user(db, "teacher2"), dad, user(db, "aliya"))
    with pytest.raises(Forbidden):
        courses.require_guardian_link(db, helper, dad, user(db, "aliya"))
    with pytest.raises(Forbidden):  # an account with a role in a course
        courses.require_guardian_link(db, user(db, "teacher"), user(db, "student2"), user(db, "aliya"))
    courses.require_guardian_link(db, user(db, "teacher"), dad, user(db, "aliya"))
    courses.require_guardian_link(db, user(db, "admin"), user(db, "teacher2"), user(db, "aliya"))
    courses.require_guardian_link(db, None, user(db, "teacher2"), user(db, "aliya"))


def test_the_admin_still_updates_accounts(db):
    mine, other = school(db)
    for by, password in ((user(db, "admin"), "Admin-set-1"), (None, "Shell-set-1")):
        report = rosters.import_roster(db, other, csv(
            "login,full_name,email,password,role,parent_of",
            f"aliya,Әлия Н.,new@school.kz,{password},student,",
            f"mum,Mum B.,,{password},parent,student2",
        ), by=by)
        assert report.ok and not report.warnings, report.warnings
        assert [u["login"] for u in report.updated] == ["aliya", "mum"]
        assert accounts.authenticate(db, "aliya", password) is not None
        assert accounts.authenticate(db, "mum", password) is not None
    aliya = user(db, "aliya")
    assert (aliya.full_name, aliya.email) == ("Әлия Н.", "new@school.kz")
    assert courses.role_in(db, aliya, other) == Role.student
    assert guardians(db) == {("mum", "aliya"), ("mum", "student2")}


def test_a_teacher_still_creates_students_and_parents_and_updates_her_own_students(db):
    mine, _ = school(db)
    teacher = user(db, "teacher")
    report = rosters.import_roster(db, mine, csv(
        "login,full_name,role,class,password,parent_of",
        "bota,Бота,student,7A,,",
        "dad,Dad,parent,,Dad-pass-12,bota aliya",  # a new parent of her new and her old student
        "aliya,Әлия,student,7B,,",
        "helper,Helper,assistant,,,",
    ), by=teacher)
    assert report.ok and not report.warnings, report.warnings
    assert {c["login"] for c in report.created} == {"bota", "dad", "helper"}
    assert [u["login"] for u in report.updated] == ["aliya"]
    assert courses.role_in(db, user(db, "bota"), mine) == Role.student
    assert courses.role_in(db, user(db, "helper"), mine) == Role.assistant
    section = {m.user.name: m.section for m in courses.members(db, mine, Role.student)}
    assert section == {"aliya": "7B", "bota": "7A"}
    assert {("dad", "bota"), ("dad", "aliya")} <= guardians(db)
    assert accounts.authenticate(db, "dad", "Dad-pass-12") is not None
    # re-importing her class: memberships change, the accounts do not
    report = rosters.import_roster(db, mine, csv(
        "login,full_name,email,role,class,password,parent_of",
        f"aliya,Alia,a@b.kz,student,8A,{ATTACK},",
        f"dad,Dad,,parent,,{ATTACK},bota",
    ), by=teacher)
    assert report.ok
    assert [u["login"] for u in report.updated] == ["aliya", "dad"]
    en = warnings(report, "en")
    assert len(en) == 4 and all("ask the administrator" in m.lower() for m in en), en
    assert {m.user.name: m.section for m in courses.members(db, mine, Role.student)}["aliya"] == "8A"
    assert accounts.authenticate(db, "aliya", ALIYA_PASSWORD) is not None
    assert accounts.authenticate(db, "dad", "Dad-pass-12") is not None
    assert (user(db, "aliya").full_name, user(db, "aliya").email) == ("Әлия", "aliya@school.kz")


def test_a_person_is_not_their_own_parent_in_a_roster(db):
    mine, _ = school(db)
    report = rosters.import_roster(db, mine, csv("login,role,parent_of", "pat,parent,pat"), by=None)
    assert not report.ok and report.errors[0]["line"] == 2


# --- through the service, in-process --------------------------------------------------


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    with s.sessions() as db:
        school(db)
        accounts.create_user(db, "dad")
        db.commit()
    return s


def test_the_roster_route_and_page_do_not_let_a_teacher_change_the_admin(site):
    files = {"file": ("r.csv", csv("login,full_name,password", f"admin,Hacked,{ATTACK}"), "text/csv")}
    r = site.call("POST", "/api/v1/courses/other/roster", user="teacher2", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["updated"] == [] and len(body["warnings"]) == 1
    message = body["warnings"][0]["message"]
    assert "admin" in message and "администратор" in message  # in the caller's language (ru)
    r = site.call("POST", "/courses/other/roster", user="teacher2", files=files, page=True)
    assert r.status_code == 200, r.text
    with site.sessions() as db:
        assert accounts.authenticate(db, "admin", ATTACK) is None
        assert accounts.authenticate(db, "admin", ADMIN_PASSWORD) is not None
        assert user(db, "admin").full_name == "Administrator"


def test_the_children_route_follows_the_guardian_rule(site):
    def link(caller: str, parent: str, child: str):
        return site.call("POST", f"/api/v1/users/{parent}/children", user=caller, json={"child": child})

    assert link("teacher2", "teacher2", "aliya").status_code == 403  # the exploit, by the API
    assert link("teacher2", "dad", "aliya").status_code == 403
    assert link("teacher", "teacher", "aliya").status_code == 403  # her student, but herself
    assert link("teacher", "student2", "aliya").status_code == 403
    assert link("aliya", "dad", "aliya").status_code == 403
    # no probing of logins: an unknown child is the same refusal as another course's child
    unknown, theirs = link("teacher2", "dad", "nobody"), link("teacher2", "dad", "aliya")
    assert unknown.status_code == 403 and unknown.json()["message"].replace("nobody", "aliya") == theirs.json()[
        "message"]
    with site.sessions() as db:
        assert guardians(db) == {("mum", "aliya")}
    assert link("teacher", "dad", "aliya").status_code == 201
    assert link("admin", "teacher2", "student2").status_code == 201
    assert link("admin", "dad", "nobody").status_code == 404
    with site.sessions() as db:
        assert guardians(db) == {("mum", "aliya"), ("dad", "aliya"), ("teacher2", "student2")}
        assert db.scalar(select(func.count()).select_from(Guardian)) == 3
