"""Every public function, method and class of the package has a docstring."""

import ast

from neuropose_assets_tests import REPO

PACKAGE = REPO / "neuropose_assets"


def undocumented(source: str) -> list[str]:
    """Public module-level functions and classes, and public methods of public classes, without a docstring."""
    out = []
    for node in ast.parse(source).body:
        items = [node]
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            items += [n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        for n in items:
            if (
                isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and not n.name.startswith("_")
                and ast.get_docstring(n) is None
            ):
                out.append(f"{n.name}:{n.lineno}")
    return out


def test_every_public_function_and_class_has_a_docstring():
    missing = {str(p.relative_to(PACKAGE)): undocumented(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}
    assert {k: v for k, v in missing.items() if v} == {}


def test_the_docstring_check_sees_functions_classes_and_methods():
    code = (
        'def a():\n    pass\n\ndef _b():\n    pass\n\nclass C:\n    """doc"""\n    def m(self):\n        pass\n'
        "    def _n(self):\n        pass\n"
    )
    assert undocumented(code) == ["a:1", "m:9"]
