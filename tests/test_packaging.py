"""The package as users install it: a wheel built from this tree, installed into a clean venv.

No network: the wheel is built without build isolation (setuptools from this environment) and
installed without its dependencies; the clean venv then sees this environment's third-party
packages through a ``.pth`` line (never this tree's sources). What it proves: everything the
code reads at run time (migrations, portal templates and static files, platform profiles,
``py.typed``) is in the wheel, and the console script works from it.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str | Path, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def test_the_wheel_installs_into_a_clean_venv_and_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and "SMARTLIC" not in k}
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
        "-w", dist, ROOT, env=env, cwd=tmp_path)  # fmt: skip
    [wheel] = dist.glob("smartlic-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for needed in (
        "smartlic/py.typed",
        "smartlic/storage/migrations/env.py",
        "smartlic/collector/migrations/env.py",
        "smartlic/authority/web/templates/base.html",
        "smartlic/domain/profiles/asr903.toml",
        "smartlic/domain/profiles/c9300.toml",
    ):
        assert needed in names, needed
    assert any(n.startswith("smartlic/storage/migrations/versions/0001") for n in names)
    assert any(n.startswith("smartlic/authority/web/static/") for n in names)

    clean = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(clean)
    purelib = Path(sysconfig.get_paths(vars={"base": clean, "platbase": clean})["purelib"])
    (purelib / "third_party.pth").write_text(
        "\n".join(p for p in site.getsitepackages() if "site-packages" in p) + "\n"
    )
    run(sys.executable, "-m", "pip", "--python", clean / "bin/python", "install", "--no-deps",
        "--no-index", "-q", wheel, env=env, cwd=tmp_path)  # fmt: skip
    bin_dir = clean / "bin"
    where = run(bin_dir / "python", "-c", "import smartlic; print(smartlic.__file__)",
                env=env, cwd=tmp_path)  # fmt: skip
    assert where.startswith(str(clean)), where  # the wheel's copy, not this tree
    assert (
        run(bin_dir / "smartlic", "--version", env=env, cwd=tmp_path)
        .strip()
        .startswith("smartlic ")
    )
    data = {**env, "SMARTLIC_AUTHORITY_DATA_DIR": str(tmp_path / "authority")}
    assert "at the latest schema" in run(bin_dir / "smartlic", "authority", "init",
                                         env=data, cwd=tmp_path)  # fmt: skip
    run(bin_dir / "smartlic", "authority", "db", "check", env=data, cwd=tmp_path)
    portal = run(
        bin_dir / "python", "-c",
        "from fastapi.testclient import TestClient; from smartlic.authority.app import "
        "app_from_env; print(TestClient(app_from_env()).get('/portal/login').status_code)",
        env=data, cwd=tmp_path,
    )  # fmt: skip
    assert portal.strip().endswith("200")
