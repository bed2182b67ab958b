"""nbgrader exchange plugin: an HTTP client of the sabaq service."""
