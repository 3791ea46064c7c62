"""Built-in networks of the chapter, ready to query."""

from __future__ import annotations

from .factors import Table
from .network import BayesNet
from .variables import Discrete

__all__ = ["student"]


def student() -> BayesNet:
    """The student network of §2.1.1 (figure 1).

    x1: studies, x2: gets the theory part right, x3: gets the practice part right, x4: passes;
    edges x1 → x2, x1 → x3, x2 → x4, x3 → x4; every variable binary with states "0", "1".

        p(x1=1) = 0.9
        p(x2=1 | x1) = 0.2, 0.75           p(x3=1 | x1) = 0.3, 0.8
        p(x4=1 | x2, x3) = 0.05 (0,0), 0.60 (0,1), 0.65 (1,0), 0.99 (1,1)
    """
    x1, x2, x3, x4 = (Discrete(f"x{i}", ["0", "1"]) for i in range(1, 5))
    return BayesNet(
        [
            Table(x1, probs=[0.1, 0.9]),
            Table(x2, [x1], probs=[[0.8, 0.2], [0.25, 0.75]]),
            Table(x3, [x1], probs=[[0.7, 0.3], [0.2, 0.8]]),
            Table(
                x4,
                [x2, x3],  # probs[x2, x3, x4]
                probs=[[[0.95, 0.05], [0.40, 0.60]], [[0.35, 0.65], [0.01, 0.99]]],
            ),
        ],
        name="student",
    )
