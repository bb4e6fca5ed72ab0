"""Version counters: how the tape notices in-place changes.

Every tensor points to a counter; views share their base's counter. An in-place
operation bumps it, and a Node that saved a tensor compares the counter with the
value it saw when saving, so a changed value is caught instead of corrupting gradients.
"""
from . import anomaly


class VersionCounter:
    """Counts in-place changes to one block of memory; views share their base's counter."""

    __slots__ = ("value", "last_inplace_op", "last_inplace_where")

    def __init__(self):
        self.value = 0
        self.last_inplace_op = None
        self.last_inplace_where = None   # the user's line, remembered in anomaly mode

    def bump(self, op_name):
        self.value += 1
        self.last_inplace_op = op_name
        if anomaly._enabled:
            self.last_inplace_where = anomaly.user_frame()
