"""No input makes the service answer 500: the cases the OpenAPI fuzzing found (issue 19),
and their kin, each refused with a 4xx in the reader's language.

The app runs in-process on a temporary SQLite database (``tests/service_app.py``).
"""

from __future__ import annotations

import html
import logging

import pytest
from conftest import _drop_postgres as drop_postgres
from conftest import database_url
from fastapi import Request
from service_app import Site, notebook
from sqlalchemy import select

from sabaq.errors import Invalid
from sabaq.hub.service import forms
from sabaq.hub.service.api.schemas import MAX_ID
from sabaq.hub.service.app import PREFIX
from sabaq.hub.store.models import Assignment, User
from sabaq.i18n import translator

HUGE_ID = "111389487336122089472"  # beyond SQLite's INTEGER: was a 500 (OverflowError) on each route below
WRONG_VALUE = "The request is missing a value or has a wrong one: {fields}."
BAD_ADDRESS = ("This address cannot be read: it has characters that are not text, or a part that is far too long. "
               "Check the link, or open the page again from sabaq's menus.")
BAD_JSON = "The request's body is not JSON sabaq can read: {reason}. Send valid JSON."
VALUE_NOT_STORED = ("A value cannot be stored: it is too long, or it has a character sabaq cannot keep (such as NUL). "
                    "Shorten it or remove the character, and try again; nothing was saved.")
INTERNAL = ("Something went wrong inside sabaq; it was not your mistake, and what you sent may not have been saved. "
            "Try again; if it happens again, tell the administrator the code {request_id}.")


def translated(lang: str, message: str, **values) -> str:
    """`message` in `lang`; checked to be a translation, not the English fallback."""
    text = translator(lang)(message).format(**values)
    assert text != message.format(**values), f"not translated into {lang}: {message!r}"
    return text


def broken(request: Request):
    raise RuntimeError("a bug no rule foresaw")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """One school for the module: the requests below change nothing that another reads."""
    s = Site(tmp_path_factory.mktemp("edges"))
    s.school = s.seed()
    s.app.add_api_route(PREFIX + "/api/v1/broken", broken)  # a route with a bug
    s.app.add_api_route(PREFIX + "/broken", broken)
    return s


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/submissions/{id}"),
    ("GET", "/api/v1/submissions/{id}/download"),
    ("GET", "/api/v1/submissions/{id}/feedback"),
    ("GET", "/api/v1/submissions/{id}/feedback/hw.html"),
    ("POST", "/api/v1/submissions/{id}/release-feedback"),
])
@pytest.mark.parametrize("user", ["admin", "aliya"])
def test_an_id_beyond_the_database_is_a_translated_422(site, method, path, lang, user):
    r = site.call(method, path.format(id=HUGE_ID), user=user, lang=lang)
    assert r.status_code == 422, r.text
    assert r.json() == {"error": "invalid", "message": translated(lang, WRONG_VALUE, fields="submission_id")}


def test_the_largest_id_the_database_keeps_is_looked_up_and_not_found(site):
    """Ids are 32-bit INTEGER columns on PostgreSQL: 2**31 failed there as "integer out of range"."""
    r = site.call("GET", f"/api/v1/submissions/{MAX_ID}", user="admin")
    assert r.status_code == 404, r.text
    assert MAX_ID == 2**31 - 1
    assert site.call("GET", f"/api/v1/submissions/{MAX_ID + 1}", user="admin").status_code == 422
    assert site.call("GET", "/api/v1/submissions/0", user="admin").status_code == 422


def test_a_page_with_a_huge_id_is_a_translated_page(site):
    r = site.call("GET", f"/submissions/{HUGE_ID}", page=True, lang="kk")
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert html.escape(translated("kk", WRONG_VALUE, fields="submission_id")) in r.text


def test_a_page_number_beyond_the_database_is_a_translated_page(site):
    """The gradebook's page becomes an OFFSET: 10**29 was a 500 (OverflowError)."""
    huge = "1" + "0" * 29
    r = site.call("GET", f"/courses/alg8/gradebook?page={huge}", page=True, lang="ru")
    with pytest.raises(Invalid) as expected:
        forms.number(huge, forms.PAGE)
    assert r.status_code == 422 and html.escape(expected.value.translated("ru")) in r.text


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize("path", [
    "/api/v1/submissions/%FF%FE/download",  # not UTF-8 once percent-decoded
    "/api/v1/courses/%C0%80",  # an overlong encoding of NUL
    "/api/v1/courses/alg8%00/assignments",  # NUL, which PostgreSQL refuses in text
    "/api/v1/courses/alg8%0A",  # a control character
    "/api/v1/courses/" + "a" * 300,  # no course id is that long
    "/api/v1/courses/alg8/gradebook?section=%FF",  # the query, too
])
def test_an_address_that_is_not_text_is_a_translated_400(site, path, lang):
    r = site.call("GET", path, user="admin", lang=lang)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "bad_address", "message": translated(lang, BAD_ADDRESS)}


def test_the_reported_path_is_valid_utf8_and_a_wrong_id(site):
    """%F2%A6%BB%AE is one (unassigned) character: the id is simply not a number."""
    r = site.call("GET", "/api/v1/submissions/%F2%A6%BB%AE%5DKJ/download", user="aliya", lang="ru")
    assert r.status_code == 422
    assert r.json()["message"] == translated("ru", WRONG_VALUE, fields="submission_id")


def test_a_page_address_that_is_not_text_is_the_error_page(site):
    r = site.call("GET", "/courses/%FF", page=True, lang="ru")
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert html.escape(translated("ru", BAD_ADDRESS)) in r.text


@pytest.mark.parametrize("body, reason", [
    (b"{", "it is not valid JSON"),
    (b"[" * 100_000, "it is nested too deeply"),  # json.loads' RecursionError was a 500
    (b'{"language": ' + b"[" * 70 + b"]" * 70 + b"}", "it is nested too deeply"),
    (b'{"language": NaN}', "NaN and infinities are not numbers JSON allows"),
    (b'{"language": 1e400}', "a number is larger than sabaq can store"),
    (b'{"language": 111389487336122089472}', "a number is larger than sabaq can store"),
    (b'{"language": "k\\u0000k"}', "a text has a NUL character"),
    (b'{"language": "\xff"}', "it is not UTF-8 text"),
])
@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_json_sabaq_cannot_keep_is_a_translated_400(site, body, reason, lang):
    r = site.call("PATCH", "/api/v1/me", user="aliya", lang=lang, content=body,
                  headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "bad_json", "message": translated(lang, BAD_JSON, reason=translated(lang, reason))}


def test_a_huge_json_body_is_a_413(site):
    body = b'{"language": "' + b"k" * (9 * 1024 * 1024) + b'"}'
    r = site.call("PATCH", "/api/v1/me", user="aliya", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "json_too_large"


def test_valid_json_still_reaches_the_route(site):
    r = site.call("PATCH", "/api/v1/me", user="mama", json={"language": "kk"})
    assert r.status_code == 200 and r.json()["language"] == "kk"


def test_a_body_that_is_not_json_is_a_translated_422(site):
    r = site.call("PATCH", "/api/v1/me", user="aliya", lang="kk", content=b"language=kk",
                  headers={"content-type": "text/plain"})
    assert r.status_code == 422
    assert r.json()["message"] == translated("kk", WRONG_VALUE, fields="body")


@pytest.mark.parametrize("field, value", [
    ("attempt", 2**40),  # an Integer column: PostgreSQL refuses it
    ("exercise", "e" * 65),
])
def test_body_numbers_and_names_are_bounded(site, field, value):
    body = {"course": "alg8", "lesson": "l1", "exercise": "e1", "correct": True, field: value}
    r = site.call("POST", "/api/v1/lessons/attempts", user="aliya", json=body)
    assert r.status_code == 422 and field in r.json()["message"]


def test_unknown_addresses_and_methods_are_translated(site):
    r = site.call("GET", "/api/v1/nothing-here", lang="kk")
    assert r.status_code == 404 and r.json()["error"] == "no_route"
    assert r.json()["message"] == translated(
        "kk", "There is nothing at this address. Check the link, or open the page again from sabaq's menus.")
    r = site.call("DELETE", "/api/v1/courses", lang="ru")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert r.json()["message"] == translated("ru", "This address does not take {method} requests.", method="DELETE")


def test_a_broken_form_is_a_translated_400(site):
    r = site.call("PUT", "/api/v1/courses/alg8/assignments/hw2", lang="kk", content=b"--x\r\nContent-Disposition: "
                  b'form-data; name="release"; filename="a.ipynb"\r\n\r\nno end',
                  headers={"content-type": "multipart/form-data; boundary=x"})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["message"] != ""


@pytest.mark.parametrize("page", [False, True])
def test_an_unexpected_error_is_a_translated_500_with_a_request_id_in_the_log(site, caplog, page):
    with caplog.at_level(logging.ERROR, logger="sabaq.service"):
        r = site.call("GET", "/broken" if page else "/api/v1/broken", lang="kk", page=page)
    assert r.status_code == 500
    request_id = r.headers["x-request-id"]
    message = translated("kk", INTERNAL, request_id=request_id)
    if page:
        assert r.headers["content-type"].startswith("text/html") and html.escape(message) in r.text
    else:
        assert r.json() == {"error": "internal", "message": message}
    logged = [rec for rec in caplog.records if request_id in rec.getMessage()]
    assert logged and "a bug no rule foresaw" in str(logged[0].exc_info[1])


@pytest.mark.parametrize("problem_yaml", [b"name: [unclosed", b"- a list\n- not a mapping\n", b"name: a\x00b\n",
                                          b"\xff\xfe", b"limits:\n  memory: lots\n"])
def test_a_task_package_that_cannot_be_read_is_a_translated_422(site, problem_yaml):
    """The Kattis loader's YAML, encoding and number errors were 500s."""
    files = [("files", ("problem.yaml", problem_yaml)), ("files", ("data/secret/1.in", b"1\n")),
             ("files", ("data/secret/1.ans", b"1\n"))]
    r = site.call("PUT", "/api/v1/courses/alg8/tasks/t1", lang="ru", files=files)
    assert r.status_code == 422, r.text
    reason = translator("ru")("{folder}: problem.yaml, .timelimit or a testdata.yaml cannot be read ({error}). "
                              "Fix the file and publish again.").split("{folder}")[1].split("(")[0]
    assert r.json()["error"] == "invalid" and reason in r.json()["message"]


@pytest.fixture(scope="module")
def pg_site(tmp_path_factory):
    """The school on PostgreSQL, which refuses what SQLite keeps (skipped where there is none)."""
    tmp = tmp_path_factory.mktemp("edges-pg")
    url = database_url("postgresql", tmp)
    s = Site(tmp, url)
    s.seed()
    yield s
    s.app.state.engine.dispose()
    drop_postgres(url)


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize("method, path, files, data", [
    ("PUT", "/api/v1/courses/alg8/assignments/hw2", [("release", ("hw.ipynb", notebook()))], {"title": "a\x00b"}),
    ("POST", "/api/v1/courses/alg8/roster", [("file", ("r.csv", b"login,full_name\nbob,B\x00b\n"))], {}),
    ("POST", "/api/v1/courses/alg8/roster", [("file", ("r.csv", b"login,full_name\nbob," + b"x" * 300 + b"\n"))], {}),
])
def test_a_value_postgresql_refuses_is_a_translated_422_and_nothing_is_saved(pg_site, method, path, files, data, lang):
    r = pg_site.call(method, path, lang=lang, files=files, data=data)
    assert r.status_code == 422, r.text
    assert r.json() == {"error": "value_not_stored", "message": translated(lang, VALUE_NOT_STORED)}
    with pg_site.sessions() as db:
        assert db.scalar(select(User).where(User.name == "bob")) is None
        assert db.scalar(select(Assignment).where(Assignment.name == "hw2")) is None
