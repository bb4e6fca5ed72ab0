"""The ``weights=`` argument of the model builders: tapegrad builds models, it ships no weights.

``weights=None`` (the default) gives a freshly initialised model. A checkpoint saved by
torchvision loads with ``model.load_state_dict(tg.load("resnet18.pth"))``, since the
parameter names are torchvision's.
"""
import warnings


def check_no_weights(builder, weights, kwargs):
    """``kwargs`` without torchvision's legacy ``pretrained``; pretrained weights are refused
    with the way forward."""
    if "pretrained" in kwargs:
        warnings.warn(f"{builder}: the 'pretrained' argument is deprecated; use weights=None",
                      UserWarning, stacklevel=3)
        if kwargs.pop("pretrained"):
            weights = "DEFAULT"
    if weights is not None:
        raise ValueError(f"{builder}: weights={weights!r} asks for pretrained weights, which "
                         f"tapegrad does not download; build with weights=None and load a "
                         f"checkpoint instead: model.load_state_dict(tg.load(path)) reads "
                         f"torchvision's .pth files, whose keys this model shares")
    return kwargs
