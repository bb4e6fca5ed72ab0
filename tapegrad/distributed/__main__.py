"""``python -m tapegrad.distributed`` is ``python -m tapegrad.distributed.run``."""
import sys

from .run import main

sys.exit(main())
