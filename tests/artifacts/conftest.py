"""One build per test run, for the template's architecture (what a deploy ships) and for this machine's
(to run it here), and the built platform on a moto server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra import package
from tests import conftest as root_conftest
from tests.support import built


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="session")
def deploy_build(build_dir: Path) -> package.Build:
    """What `make package` builds: the template's architecture."""
    return package.build(package.template_architecture(), build_dir)


@pytest.fixture(scope="session")
def native_build(build_dir: Path, deploy_build: package.Build) -> package.Build:
    arch = package.native_architecture()
    return deploy_build if arch == deploy_build.arch else package.build(arch, build_dir)


@pytest.fixture(scope="session")
def built_platform(native_build: package.Build, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[built.BuiltPlatform]:
    with built.running(native_build, tmp_path_factory.mktemp("lambda"), root_conftest.SIGNING_KEYS) as platform:
        yield platform
