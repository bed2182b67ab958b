"""Built-in course content: lessons, nbgrader source assignments, olympiad tasks."""

from pathlib import Path

ROOT = Path(__file__).parent


def course_dir(name: str) -> Path:
    """The folder of a built-in course, e.g. ``course_dir("demo")``."""
    path = ROOT / name
    if not (path / "course.toml").is_file():
        raise FileNotFoundError(f"no built-in course {name!r} under {ROOT}")
    return path
