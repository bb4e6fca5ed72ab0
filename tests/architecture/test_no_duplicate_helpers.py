"""A helper is written once: no two module-level functions of tapegrad have the same body.

(Two copies of a check drift apart: one gets a better message, the other keeps the old.)
"""
import ast
import pathlib

import tapegrad

PACKAGE = pathlib.Path(tapegrad.__file__).parent


def module_level_functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                yield path.relative_to(PACKAGE.parent), node


def body_fingerprint(function):
    """The function's arguments and statements, without its name and docstring."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return ast.dump(function.args) + "".join(ast.dump(statement) for statement in body)


def test_no_two_module_level_functions_have_the_same_body():
    seen, duplicates = {}, []
    for path, function in module_level_functions():
        fingerprint = body_fingerprint(function)
        if len(function.body) < 2 or any(isinstance(s, ast.Global) for s in function.body):
            continue   # one-liners and setters of a module's own flag say nothing shared
        if fingerprint in seen:
            duplicates.append(f"{path}:{function.name} repeats {seen[fingerprint]}")
        else:
            seen[fingerprint] = f"{path}:{function.name}"
    assert not duplicates, "\n".join(duplicates)
