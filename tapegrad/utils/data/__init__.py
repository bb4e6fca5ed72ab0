"""``torch.utils.data`` lives in ``tapegrad.data``; this package points there (and
``tapegrad.utils.data.distributed`` to ``tapegrad.data.distributed``)."""
from ...data import *  # noqa: F401,F403
from ...data import __all__  # noqa: F401
from . import distributed  # noqa: F401
