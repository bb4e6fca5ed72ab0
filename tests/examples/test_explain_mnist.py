"""examples/explain_mnist.py --quick: a small CNN explained five ways, each checked by its
deletion AUC; Integrated Gradients beats a random order of the pixels."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_saves_the_figure_and_integrated_gradients_beats_random_deletion(tmp_path):
    result = subprocess.run([sys.executable, "examples/explain_mnist.py", "--quick", "--out",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    path = tmp_path / "explain_mnist.png"
    assert path.is_file() and path.stat().st_size > 0
    assert f"saved {path}" in result.stdout
    aucs = dict((name.strip(), float(value)) for name, value in
                re.findall(r"^  (\S[\w -]*?) +(\d\.\d+)$", result.stdout, flags=re.M))
    assert set(aucs) == {"saliency", "Integrated Gradients", "SmoothGrad", "Grad-CAM", "LIME",
                         "random order"}, result.stdout
    assert all(0.0 <= auc <= 1.0 for auc in aucs.values())
    # deleting the pixels Integrated Gradients ranks first makes p(class) collapse much sooner
    # than deleting pixels in a random order
    assert aucs["Integrated Gradients"] < 0.5 * aucs["random order"], result.stdout
