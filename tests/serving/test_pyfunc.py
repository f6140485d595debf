"""The pyfunc class keeps the name models registered by earlier versions pickled it under."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import selector
from selector.serving.pyfunc import SERVING_MODULES
from tests.helpers.serving import SERVE_SCRIPT, TRAINING_STACK


def test_models_pickled_as_selector_serving_selectormodel_still_load() -> None:
    from selector.serving.pyfunc import SelectorModel

    # What cloudpickle wrote for the class when it lived in the module selector/serving.py.
    old_reference = b"cselector.serving\nSelectorModel\n."
    assert pickle.loads(old_reference) is SelectorModel


def test_the_modules_a_model_carries_import_on_their_own_without_the_training_stack(
        tmp_path: Path) -> None:
    """What `mlflow models serve` finds in the model's code folder is enough: every carried
    module imports from a copy of just those files, with torch and the rest refused."""
    package = Path(selector.__file__).parent
    for module in SERVING_MODULES:
        (tmp_path / "selector" / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(package / module, tmp_path / "selector" / module)
    names = [f"selector.{m[:-3].replace('/', '.')}".removesuffix(".__init__")
             for m in SERVING_MODULES]
    script = (SERVE_SCRIPT.split("import mlflow.pyfunc")[0].format(stack=set(TRAINING_STACK))
              + f"import importlib\nfor name in {names!r}:\n    importlib.import_module(name)\n"
              + "import selector\nprint(selector.__file__)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "selector" / "__init__.py")
