"""examples/lime_text.py --quick: an RNN text classifier, explained word by word by LIME."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_lime_text_quick_trains_a_classifier_and_explains_it_with_the_deciding_word(tmp_path):
    result = subprocess.run([sys.executable, "examples/lime_text.py", "--quick", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    for name in ("lime_text.png", "lime_bars.png", "training.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    accuracy = float(re.search(r"trained in .*test accuracy ([\d.]+)%", result.stdout).group(1))
    assert accuracy > 80, result.stdout
    # "the acting was superb but the plot was really dull": the clause after "but" decides,
    # and LIME's strongest word is "dull", pushing away from "positive".
    top = re.search(r"really dull'\n.*\n  top words: (\w+) ([-+][\d.]+)", result.stdout)
    assert top.group(1) == "dull" and float(top.group(2)) < 0, result.stdout
