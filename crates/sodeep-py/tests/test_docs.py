"""The examples in the package's docstrings run and print what they say."""
import doctest

import pytest

import sodeep
import sodeep.numpy
import sodeep.torch


@pytest.mark.parametrize("module", [sodeep, sodeep.numpy, sodeep.torch],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module.__name__} has no example"
    assert result.failed == 0
