"""The platforms' SDKs are conformance oracles for the tests, never dependencies of the product."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK_IMPORTS = re.compile(r"^\s*(from|import)\s+(botbuilder|google\.cloud\.dialogflowcx|rasa_sdk|svix)\b", re.M)
SDK_PACKAGES = ("botbuilder-schema", "google-cloud-dialogflow-cx", "rasa-sdk", "svix")


def test_no_product_module_imports_a_platform_sdk() -> None:
    offenders = [str(p.relative_to(ROOT)) for folder in ("bridge", "connectors") for p in (ROOT / folder).rglob("*.py")
                 if SDK_IMPORTS.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_sdks_are_test_extras_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    def names(deps: list[str]) -> set[str]:
        return {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower() for d in deps}
    assert not names(project["dependencies"]) & set(SDK_PACKAGES)
    assert set(SDK_PACKAGES) <= names(project["optional-dependencies"]["test"])
