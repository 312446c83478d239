"""The image installs exactly the pinned packages: Python packages by hash from a file that pins
what requirements.txt pins, Debian packages by version (#16, 8). scripts/test-image builds it."""

from __future__ import annotations

import re
import subprocess
import sys

import yaml

from tests.deploy.templates import ROOT, load

sys.path.insert(0, str(ROOT / "deploy"))
try:
    import image_requirements
finally:
    sys.path.remove(str(ROOT / "deploy"))

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _entries(text: str) -> list[str]:
    """requirements-image.txt's entries, continuation lines joined."""
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_the_image_requirements_pin_what_requirements_txt_pins_each_with_a_hash():
    image = image_requirements.TARGET.read_text()
    assert image_requirements.pins(image) == image_requirements.pins(image_requirements.SOURCE.read_text())
    for entry in _entries(image):
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==\S+( --hash=sha256:[0-9a-f]{64})+", entry), entry


def test_a_version_drift_is_seen():
    drifted = image_requirements.TARGET.read_text().replace("celery==", "celery==0.", 1)
    assert image_requirements.pins(drifted) != image_requirements.pins(image_requirements.SOURCE.read_text())


def test_the_dockerfile_installs_with_require_hashes_from_that_file():
    assert "COPY deploy/requirements-image.txt /tmp/requirements-image.txt" in DOCKERFILE
    installs = [line for line in DOCKERFILE.splitlines() if "pip install" in line]
    assert installs == [
        "RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements-image.txt"
    ]


def test_every_debian_package_is_pinned_to_a_version():
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    packages = []
    for command in re.findall(r"apt-get install ([^&]+)", joined):
        packages += [word for word in command.split() if not word.startswith("-")]
    assert len(packages) == 4
    assert all(re.fullmatch(r"[a-z0-9.+-]+=[0-9][\w.+~:-]*", package) for package in packages), packages


# --- the base image: the pipeline builds on a digest, never a tag ---------------------------------


def test_the_pipeline_builds_on_the_base_image_by_digest():
    pipeline = load("pipeline")
    pattern = pipeline["Parameters"]["BaseImage"]["AllowedPattern"]
    digest = "0123456789abcdef" * 4
    assert re.fullmatch(
        pattern, f"210987654321.dkr.ecr.eu-west-1.amazonaws.com/ecr-public/docker/library/python@sha256:{digest}"
    )
    assert not re.fullmatch(pattern, "public.ecr.aws/docker/library/python:3.11-slim-bookworm")
    assert "Default" not in pipeline["Parameters"]["BaseImage"]
    variables = pipeline["Resources"]["BuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]
    assert {"Name": "PYTHON_IMAGE", "Value": {"Ref": "BaseImage"}} in variables
    buildspec = yaml.safe_load((ROOT / "deploy" / "buildspec.yml").read_text())
    assert '--build-arg PYTHON_IMAGE="$PYTHON_IMAGE"' in "\n".join(buildspec["phases"]["build"]["commands"])
    # The build refuses a tag before anything else runs (the guard is the first command).
    guard = buildspec["phases"]["pre_build"]["commands"][0]
    for image, refused in ((f"x.example/python@sha256:{digest}", False), ("x.example/python:3.11-slim", True)):
        result = subprocess.run(["bash", "-c", guard], env={"PYTHON_IMAGE": image, "PATH": "/usr/bin:/bin"})
        assert (result.returncode != 0) == refused, image
