"""The README's learning section: its picture commands write PNGs of the stated sizes; its code
runs."""

import os
import re
import shlex

import pytest

from tapeflow._plot_cli import main as plot_main
from tapeflow.plot import png_size

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
SECTION = "## Learning with tapeflow"

pytest.importorskip("matplotlib")


def _text():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:] if end < 0 else text[start:end]


def _plot_commands():
    cmds = []
    for line in _text().splitlines():
        m = re.match(r"^tapeflow plot (.*?)\s+#.*\((\d+) x (\d+)\)\s*$", line)
        if m:
            cmds.append((shlex.split(m.group(1)), (int(m.group(2)), int(m.group(3)))))
    return cmds


def test_readme_lists_a_command_for_each_picture():
    whats = {args[0] for args, _ in _plot_commands()}
    assert whats == {"activations", "boundary", "history", "network"}


@pytest.mark.parametrize("args, size", _plot_commands(), ids=lambda v: " ".join(v)
                         if isinstance(v, list) else None)
def test_readme_plot_command_writes_the_png(tmp_path, args, size, capsys):
    i = args.index("--out")
    out = tmp_path / args[i + 1]
    args = args[:i] + ["--out", str(out)] + args[i + 2:]
    if args[0] in ("history", "boundary") and "--model" in args:
        args += ["--epochs", "30"]               # fewer epochs: the size is what is checked
    elif args[0] == "history":
        args += ["--epochs", "3"]
    assert plot_main(args) == 0
    assert png_size(out) == size
    assert out.stat().st_size > 2000
    assert "wrote" in capsys.readouterr().out


def test_readme_python_code_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"^```python\n(.*?)^```", _text(), flags=re.S | re.M)
    assert len(blocks) == 2
    ns = {}
    for code in blocks:
        exec(compile(code, "README.md", "exec"), ns)
    assert "4. Gradient step" in capsys.readouterr().out
    for png in ("activations.png", "perceptron.png", "mlp.png"):
        assert png_size(tmp_path / png)[0] > 0
