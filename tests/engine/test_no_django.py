"""The engine's core must stay importable and usable without Django."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import splitter_engine

ROOT = Path(__file__).resolve().parents[2]


def engine_core_modules() -> list[str]:
    return [info.name for info in pkgutil.walk_packages(splitter_engine.__path__, prefix="splitter_engine.")]


def test_engine_core_imports_no_django():
    modules = engine_core_modules()
    assert "splitter_engine.runtime" in modules and "splitter_engine.data" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(leaked))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"engine core imported Django modules: {out.stdout.strip()}"

