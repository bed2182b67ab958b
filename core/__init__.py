"""sabaq: a Jupyter teaching and assessment platform for schools."""

__version__ = "0.1.0"
