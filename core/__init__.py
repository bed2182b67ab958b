"""sabaq: a Jupyter teaching and assessment platform for schools."""

import sys

__version__ = "0.1.0"

# jsonschema imports rfc3987_syntax when it is installed (jupyter-events asks for it), which
# builds 38 parsers at import: 0.9 s added to every sabaq command, service and grading run.
# sabaq validates no "iri" formats, so its processes go without it; jsonschema handles the
# missing module as it does when the package is not installed.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)

from sabaq.lazy import put_off_archive_util  # noqa: E402 - after the module's own set-up

put_off_archive_util()
