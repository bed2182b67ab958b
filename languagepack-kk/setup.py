"""Builds the JSON catalogues from po/*.po into the package as it is built (po2json.py)."""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PACKAGE = "jupyterlab_language_pack_kk_KZ"


class BuildWithCatalogues(build_py):
    def run(self):
        super().run()
        sys.path.insert(0, str(HERE))
        from po2json import build

        build(HERE / "po", Path(self.build_lib) / PACKAGE)


setup(cmdclass={"build_py": BuildWithCatalogues})
