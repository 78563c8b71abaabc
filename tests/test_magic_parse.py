"""The %rashomon magic's own parse errors are its usage error (MagicError), never a shlex traceback."""
import pytest
import torch

from rashomon_widgets.magic import USAGE, MagicError, parse


@pytest.mark.parametrize("line, why", [("model loss 'data", "no closing quotation"),
                                       ('model loss "data reduction=sum', "no closing quotation"),
                                       ("model loss data\\", "no escaped character")])
def test_a_line_shlex_cannot_split_is_a_usage_error(line, why):
    ns = {"model": torch.nn.Linear(2, 1), "loss": torch.nn.MSELoss(), "data": (torch.zeros(3, 2), torch.zeros(3, 1))}
    with pytest.raises(MagicError, match=rf"cannot read the line .*: {why}; expected names and key=value") as info:
        parse(line, ns)
    assert USAGE in str(info.value)
    assert parse("model loss data", ns)[0] is ns["model"]
