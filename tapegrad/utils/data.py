"""``torch.utils.data`` lives in ``tapegrad.data``; this module points there."""
from ..data import *  # noqa: F401,F403
from ..data import __all__  # noqa: F401
