"""The pyfunc class keeps the name models registered by earlier versions pickled it under."""

from __future__ import annotations

import pickle


def test_models_pickled_as_selector_serving_selectormodel_still_load() -> None:
    from selector.serving.pyfunc import SelectorModel

    # What cloudpickle wrote for the class when it lived in the module selector/serving.py.
    old_reference = b"cselector.serving\nSelectorModel\n."
    assert pickle.loads(old_reference) is SelectorModel
