"""tapegrad.functional, PyTorch's torch.functional: the top-level functions under that path."""
import tapegrad as tg
import tapegrad.functional


def test_it_holds_the_top_level_functions_themselves():
    assert tapegrad.functional.einsum is tg.einsum
    assert tapegrad.functional.split is tg.split
    for name in tapegrad.functional.__all__:
        assert getattr(tapegrad.functional, name) is getattr(tg, name)
        assert name in tapegrad.functional.PYTORCH_NAMES
