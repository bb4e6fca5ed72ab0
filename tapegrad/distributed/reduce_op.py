"""``ReduceOp``: how a collective combines the values that every process contributes."""
import enum


class ReduceOp(enum.Enum):
    """PyTorch's reduction names: ``dist.ReduceOp.SUM`` … (AVG is the SUM divided by the
    number of processes; BAND, BOR and BXOR are bitwise, for integer and bool tensors)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"

    def __repr__(self):
        return f"ReduceOp.{self.name}"


BITWISE = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)
