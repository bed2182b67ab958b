"""School logins: OpenID Connect claims and LTI 1.3 launches mapped to sabaq's roles and courses."""

from sabaq.hub.domain import courses
from sabaq.hub.jupyterhub.identity import LTI_CONTEXT, LTI_ROLES, apply_identity, from_lti13, from_oidc
from sabaq.hub.store.models import Role

MOODLE_TEACHER = {
    "sub": "42", "email": "Aigul.S@school.kz", "name": "Айгүл Серікқызы",
    LTI_ROLES: ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
                "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Staff"],
    LTI_CONTEXT: {"id": "1234", "label": "PHYS-9A", "title": "Физика 9А"},
}
CANVAS_STUDENT = {
    "sub": "abc", "email": "aliya@school.kz", "given_name": "Әлия", "family_name": "Нұрланқызы",
    LTI_ROLES: ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
    LTI_CONTEXT: {"id": "1234", "label": "PHYS-9A", "title": "Физика 9А"},
}


def test_lti13_roles_and_course_from_moodle_and_canvas():
    teacher = from_lti13(MOODLE_TEACHER)
    assert teacher.name == "aigul.s@school.kz" and teacher.full_name == "Айгүл Серікқызы"
    assert teacher.memberships == [("phys-9a", Role.teacher, "Физика 9А")] and not teacher.admin
    student = from_lti13(CANVAS_STUDENT)
    assert student.full_name == "Әлия Нұрланқызы"
    assert student.memberships == [("phys-9a", Role.student, "Физика 9А")]
    ta = from_lti13({**CANVAS_STUDENT, LTI_ROLES: ["http://purl.imsglobal.org/vocab/lis/v2/membership#TeachingAssistant"]})
    assert ta.memberships[0][1] == Role.assistant
    admin = from_lti13({"sub": "1", LTI_ROLES: ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"]})
    assert admin.admin and admin.memberships == [] and admin.name == "1"
    custom = from_lti13({**CANVAS_STUDENT, "https://purl.imsglobal.org/spec/lti/claim/custom": {"uname": "aliya9"}},
                        username_key="custom_uname")
    assert custom.name == "aliya9"


def test_oidc_groups_claim_maps_roles_and_courses():
    identity = from_oidc({"sub": "x", "email": "t@school.kz", "name": "Teacher T",
                          "groups": ["teacher", "course:phys9:teacher", "course:alg9:assistant", "course:x:janitor"]})
    assert identity.name == "t@school.kz" and not identity.admin
    assert identity.memberships == [("phys9", Role.teacher, "phys9"), ("alg9", Role.assistant, "alg9")]
    admin = from_oidc({"sub": "y", "preferred_username": "Boss", "roles": ["admin"]},
                      username_claim="preferred_username", roles_claim="roles")
    assert admin.admin and admin.name == "boss"
    kz = from_oidc({"email": "s@school.kz", "groups": ["course:9A:оқушы"]}, student_values=("student", "оқушы"))
    assert kz.memberships == [("9a", Role.student, "9A")]


def test_apply_identity_creates_accounts_courses_and_memberships(db):
    teacher = apply_identity(db, from_lti13(MOODLE_TEACHER))
    student = apply_identity(db, from_lti13(CANVAS_STUDENT))
    course = courses.get_course(db, "phys-9a")
    assert course.title == "Физика 9А"
    assert courses.role_in(db, teacher, course) == Role.teacher
    assert courses.role_in(db, student, course) == Role.student
    # a second launch with another role updates, never duplicates
    apply_identity(db, from_lti13({**CANVAS_STUDENT, LTI_ROLES: ["#TeachingAssistant"]}))
    assert courses.role_in(db, student, course) == Role.assistant
    assert len(courses.members(db, course)) == 2
    # without course creation, unknown courses are ignored
    apply_identity(db, from_oidc({"email": "z@school.kz", "groups": ["course:nope:student"]}), create_courses=False)
    assert [c.slug for c in courses.visible_courses(db, teacher)] == ["phys-9a"]
