"""The wheel builds offline (python3 -m build --no-isolation --wheel, Debian's setuptools) and
installs with pip into a fresh venv, where `import encore` works without PYTHONPATH."""

import os
import shutil
import subprocess
import sys

from conftest import DEMO, ROOT


def test_wheel_builds_and_installs_into_a_venv(tmp_path):
    src = tmp_path / "python"
    # A copy, so the build's egg-info and build/ folders stay out of the source tree.
    shutil.copytree(ROOT / "python", src, ignore=shutil.ignore_patterns("tests", "build*", "dist", "*.egg-info"))
    env = {**os.environ, "ENCORE_SOURCE_DIR": str(ROOT)}
    if "ENCORE_BUILD_DIR" not in env:
        env["ENCORE_BUILD_DIR"] = str(ROOT / "build")
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(tmp_path / "dist")],
                   cwd=src, env=env, check=True, capture_output=True)
    wheels = list((tmp_path / "dist").glob("encore-*.whl"))
    assert len(wheels) == 1
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "--no-index", "-q", str(wheels[0])], env=env, check=True)
    code = ("import encore, sys; print(encore.__file__); "
            f"print(encore.pipeline('text-classification', model={str(DEMO)!r})('book a flight to paris')[0]['label'])")
    out = subprocess.run([str(venv / "bin/python"), "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[0].startswith(str(venv)) and out[1] == "book_flight"
    typed = subprocess.run([str(venv / "bin/python"), "-c",
                            "import encore, pathlib; p = pathlib.Path(encore.__file__).parent; "
                            "print((p / '_encore.pyi').exists(), (p / 'py.typed').exists())"],
                           env=env, check=True, capture_output=True, text=True).stdout.split()
    assert typed == ["True", "True"]
