"""Training through the losses works, and the README's torch example runs as written."""
import os
import re
import subprocess
import sys

import torch

import sodeep.torch as st

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "spearman_torch.py")
README = os.path.join(HERE, "..", "..", "..", "README.md")


def spearman(a, b):
    ra = torch.argsort(torch.argsort(a.cpu())).double()
    rb = torch.argsort(torch.argsort(b.cpu())).double()
    return torch.corrcoef(torch.stack([ra, rb]))[0, 1].item()


def test_a_tiny_model_trained_through_spearman_loss_ranks_the_test_split_better(device):
    torch.manual_seed(3)
    x = torch.randn(600, 5).to(device)
    y = torch.tanh(x[:, 0] - 0.7 * x[:, 2]) + 0.2 * torch.randn(600).to(device)
    train, test = slice(0, 400), slice(400, 600)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 1)).to(device)
    before = spearman(model(x[test]).squeeze(1).detach(), y[test])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(150):
        batch = torch.randint(0, 400, (50,)).to(device)
        loss = st.spearman_loss(model(x[train][batch]).squeeze(1), y[train][batch],
                                ranker="softrank:eps=0.1")
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = spearman(model(x[test]).squeeze(1).detach(), y[test])
    assert after > 0.8 and after > before + 0.2, (before, after)


def test_the_readme_torch_example_is_the_example_file_and_runs():
    with open(README) as f:
        readme = f.read()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    with open(EXAMPLE) as f:
        example = f.read()
    assert example in blocks, "README's torch example must be examples/spearman_torch.py"
    out = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rho = float(out.stdout.split()[-1])
    assert rho > 0.9, out.stdout
