"""The %rashomon line magic, in a real IPython shell."""
import pytest
import torch
from IPython.testing.globalipapp import start_ipython

import rashomon_widgets as rw
from rashomon_widgets.magic import USAGE, MagicError, parse


@pytest.fixture(scope="module")
def ip():
    shell = start_ipython()
    shell.run_line_magic("load_ext", "rashomon_widgets")
    return shell


def test_magic_builds_an_explorer(ip):
    ip.user_ns.update(model=rw.models.xor_minimum(), loss=rw.models.sum_of_squares, data=rw.data.xor())
    explorer = ip.run_line_magic("rashomon", "model loss data reduction=sum num_null=2")
    assert isinstance(explorer, rw.NullSpaceExplorer)
    assert explorer.wait(300)
    assert len(explorer.sliders) == 3
    assert explorer.ls.reduction == "sum"


def test_missing_name_gets_a_helpful_message(ip, capsys):
    ip.user_ns.update(Model=torch.nn.Linear(2, 1))
    assert ip.run_line_magic("rashomon", "model2 loss data") is None
    out = capsys.readouterr().out
    assert "no variable named 'model2'" in out and "usage: %rashomon" in out


def test_wrong_kinds_and_options():
    ns = {"m": torch.nn.Linear(2, 1), "f": lambda o, t: ((o - t) ** 2).mean(),
          "d": (torch.zeros(3, 2), torch.zeros(3, 1)), "s": "text"}
    with pytest.raises(MagicError, match="'s' is a str, expected a torch.nn.Module"):
        parse("s f d", ns)
    with pytest.raises(MagicError, match="'s' is a str, expected a callable"):
        parse("m s d", ns)
    with pytest.raises(MagicError, match="expected three names"):
        parse("m f", ns)
    with pytest.raises(MagicError, match="unknown option 'colour'"):
        parse("m f d colour=red", ns)
    with pytest.raises(MagicError, match="num_null: expected a int, got 'two'"):
        parse("m f d num_null=two", ns)
    model, loss_fn, data, ls_kw, ex_kw = parse("m f d reduction=sum span=0.5", ns)
    assert model is ns["m"] and ls_kw == {"reduction": "sum"} and ex_kw == {"span": 0.5}


@pytest.mark.parametrize("line, why", [("model loss 'data", "no closing quotation"),
                                       ('model loss "data reduction=sum', "no closing quotation"),
                                       ("model loss data\\", "no escaped character")])
def test_a_line_shlex_cannot_split_is_a_usage_error(line, why):
    ns = {"model": torch.nn.Linear(2, 1), "loss": torch.nn.MSELoss(), "data": (torch.zeros(3, 2), torch.zeros(3, 1))}
    with pytest.raises(MagicError, match=rf"cannot read the line .*: {why}; expected names and key=value") as info:
        parse(line, ns)
    assert USAGE in str(info.value)
    assert parse("model loss data", ns)[0] is ns["model"]
