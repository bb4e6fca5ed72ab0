"""``python -m tapegrad.as_torch SCRIPT [ARGS…]`` runs a PyTorch script as ``python`` would,
with torch resolving to tapegrad, here and in the processes it spawns."""
import subprocess
import sys
import textwrap


def run(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "tapegrad.as_torch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def write(folder, name, source):
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def test_the_script_runs_as_main_with_its_arguments_and_its_folder_on_the_path(tmp_path):
    write(tmp_path, "helper.py", "VALUE = 42\n")
    script = write(tmp_path, "train.py", """
        import sys
        import torch
        import helper
        assert __name__ == "__main__"
        print("args", sys.argv[1:], "helper", helper.VALUE)
        print("tensor", type(torch.ones(1)).__module__, torch.ones(2).sum().item())
    """)
    result = run(str(script), "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert "args ['--epochs', '1'] helper 42" in result.stdout
    assert "tensor tapegrad.autograd.tensor 2.0" in result.stdout


def test_a_module_runs_with_dash_m(tmp_path):
    write(tmp_path, "job.py", "import sys, torch\nprint(__name__, sys.argv[1:], torch.nn.Linear)\n")
    result = run("-m", "job", "x", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "__main__ ['x'] <class 'tapegrad.nn.modules.linear.Linear'>" in result.stdout


def test_an_error_in_the_script_shows_its_traceback_and_fails(tmp_path):
    script = write(tmp_path, "broken.py", "import torch\ntorch.jit.script(None)\n")
    result = run(str(script))
    assert result.returncode != 0
    assert "torch.jit is PyTorch's name; tapegrad does not have it yet" in result.stderr
    assert "broken.py" in result.stderr


def test_a_missing_script_and_no_script_are_usage_errors(tmp_path):
    missing = run(str(tmp_path / "nowhere.py"))
    assert missing.returncode == 2 and "cannot find the script" in missing.stderr
    bare = run()
    assert bare.returncode == 2 and "--check" in bare.stdout


SPAWNS = """
    import sys
    import torch
    import torch.multiprocessing as mp


    def report(rank, queue):
        import torch
        real = [name for name in sys.modules if name == "torch._C"]
        queue.put((type(torch.ones(1)).__module__, type(sys.modules["torch"]).__name__, real))


    if __name__ == "__main__":
        queue = mp.get_context("spawn").SimpleQueue()
        mp.spawn(report, args=(queue,), nprocs=1)   # starts its processes by spawn
        print("child", queue.get())
"""


def test_spawned_children_get_tapegrad_too_never_a_real_torch(tmp_path):
    # forkserver's children read the same preparation data as spawn's
    script = write(tmp_path, "spawns.py", SPAWNS)
    result = run(str(script))
    assert result.returncode == 0, result.stderr
    assert "child ('tapegrad.autograd.tensor', 'AliasModule', [])" in result.stdout


def test_install_in_a_program_makes_the_next_import_of_torch_tapegrad(tmp_path):
    # its spawned children are covered as the runner's are: the runner calls install() too
    write(tmp_path, "program.py", """
        import multiprocessing.spawn
        import tapegrad.as_torch
        tapegrad.as_torch.install()
        import torch
        from torch import nn
        print(type(torch.ones(1)).__module__, nn.Linear.__module__,
              multiprocessing.spawn.get_preparation_data.__module__)
    """)
    result = subprocess.run([sys.executable, "program.py"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tapegrad.autograd.tensor", "tapegrad.nn.modules.linear",
                                     "tapegrad.as_torch"]


def test_the_exit_status_of_sys_exit_in_the_script_is_kept(tmp_path):
    script = write(tmp_path, "exits.py", "import sys\nsys.exit(3)\n")
    assert run(str(script)).returncode == 3
