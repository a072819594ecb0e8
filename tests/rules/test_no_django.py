"""`rules/` is plain Python on simpleeval: it must never import Django (STYLE.md)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

RULES = Path(__file__).resolve().parents[2] / "rules"
ALLOWED_TOP_LEVEL = {"simpleeval", "rules", "__future__"} | set(sys.stdlib_module_names)


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module or "")
    return modules


def test_it_imports_only_the_standard_library_simpleeval_and_itself():
    sources = sorted(RULES.rglob("*.py"))
    assert sources

    for path in sources:
        outside = {m for m in _imported_modules(path) if m.split(".")[0] not in ALLOWED_TOP_LEVEL}
        assert outside == set(), f"{path.name} imports {outside}"


def test_it_does_not_load_django_when_imported_and_used():
    program = (
        "import sys, rules\n"
        "rules.compile_expression('ctx.a > 1').evaluate(rules.Scope(ctx={'a': 2}))\n"
        "rules.check_expression('ctx.a +')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework')))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(RULES.parent)}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    completed = subprocess.run(
        [sys.executable, "-c", program],
        cwd=RULES.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert completed.stdout.strip() == "[]"
