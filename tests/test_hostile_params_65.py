"""params.yaml as a person edits it (second pass): characters pasted in from a web page or a chat, which the one-line
errors must show."""

import pytest

from hostile_harness import ROOT
from winnow.errors import WinnowError
from winnow.params import load

SHIPPED = (ROOT / "params.yaml").read_text()


def edited(old: str, new: str) -> str:
    """The shipped params.yaml with the line part ``old`` replaced once by ``new``."""
    assert SHIPPED.count(old) == 1, old
    return SHIPPED.replace(old, new)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, expected", [
    ("  model: lenet5            # lenet5 |", "  model: lenet5\u00a0           # lenet5 |",
     'params.yaml: train.model: "lenet5\\u00a0" is not one of lenet5, cnn_small, resnet18 (did you mean lenet5?)'),
    ("  epochs: 20               # the most", "  epochs: 20\u00a0              # the most",
     'params.yaml: train.epochs: "20\\u00a0" is a string, not an integer >= 1 (it holds \\u00a0, NO-BREAK SPACE: '
     'delete it)'),
    ("  epochs: 20               # the most", "  epochs: 2\u200b0               # the most",
     'params.yaml: train.epochs: "2\\u200b0" is a string, not an integer >= 1 (it holds \\u200b, ZERO WIDTH SPACE: '
     'delete it)'),
    ("  patience: 5              # stop", "  pat\u200bience: 5              # stop",
     "params.yaml: train.pat\\u200bience: unknown parameter (did you mean patience?)"),
    ("  hflip: false             # mirrored", "  hflip: false\u3000            # mirrored",
     'params.yaml: train.hflip: "false\\u3000" is not true or false'),
], ids=["no_break_space_after_a_choice", "no_break_space_after_a_number", "zero_width_space_in_a_number",
        "zero_width_space_in_a_key", "ideographic_space_after_a_boolean"])
def test_an_invisible_character_pasted_into_a_value_is_shown_in_its_error(tmp_path, old, new, expected):
    # before: shown as it is, so the line read `train.model: "lenet5 " is not one of lenet5, cnn_small, resnet18 (did
    # you mean lenet5?)`, and `"20 " is a string ... (write numbers without quotes)` of a number written without any
    (tmp_path / "params.yaml").write_text(edited(old, new), encoding="utf-8")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == expected

