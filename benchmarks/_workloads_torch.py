"""W1-W6 in PyTorch as a user writes them: an eager loop with ``torch.optim``.

Each epoch shuffles with a permutation and slices batches from the tensors (cheaper than a
``DataLoader`` over single samples, so the peer is not handicapped). Softmax/sigmoid outputs are
folded into ``CrossEntropyLoss`` / ``BCEWithLogitsLoss``, the idiomatic form; accuracy is counted
per batch, as the Keras ``metrics=["accuracy"]`` runs do. Prints one JSON line per workload.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from _workloads_common import Timer, main, make_data  # noqa: E402
from torch import nn  # noqa: E402

BATCH = {"W1": 128, "W2": 32, "W3": 128, "W4": 32, "W5": 1024, "W6": 64}


class _LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10000, 32)
        self.lstm = nn.LSTM(32, 32, batch_first=True)
        self.out = nn.Linear(32, 1)

    def forward(self, x):
        _, (h, _) = self.lstm(self.emb(x))
        return self.out(h[-1]).squeeze(1)


def build(wid):
    if wid in ("W1", "W5"):
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    if wid == "W2":
        return nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                             nn.Linear(100, 10))
    if wid == "W3":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(1600, 10))
    if wid == "W4":
        return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    return _LSTMNet()


def optimizer(wid, params):
    # Keras's defaults, so both peers run the same update rule.
    if wid == "W1":
        return torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)
    if wid in ("W2", "W4"):
        return torch.optim.SGD(params, lr=0.01)
    return torch.optim.Adam(params, lr=1e-3, eps=1e-7)


def run_one(wid, epochs, seed):
    torch.manual_seed(seed)
    x, y = make_data(wid, seed)
    x = torch.from_numpy(x)
    if wid == "W3":
        x = x.permute(0, 3, 1, 2).contiguous()  # NCHW, PyTorch's layout
    if wid == "W6":
        x = x.long()
    model = build(wid)
    bs = BATCH[wid]
    n = x.shape[0]
    timer = Timer()
    if wid == "W5":
        model.eval()
        for _ in range(epochs + 1):
            timer.begin()
            with torch.inference_mode():
                outs = [torch.softmax(model(x[i:i + bs]), dim=1) for i in range(0, n, bs)]
                torch.cat(outs).numpy()
            timer.end()
        return timer.times[1:], {}
    y = torch.from_numpy(y)
    if wid in ("W1", "W2", "W3"):
        y = y.long()
        loss_fn = nn.CrossEntropyLoss()
    elif wid == "W4":
        loss_fn = nn.MSELoss()
    else:
        loss_fn = nn.BCEWithLogitsLoss()
    opt = optimizer(wid, model.parameters())
    model.train()
    for _ in range(epochs + 1):
        timer.begin()
        perm = torch.randperm(n)
        total = torch.zeros(())
        correct = torch.zeros((), dtype=torch.long)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            with torch.no_grad():
                total += loss.detach() * len(idx)
                if wid in ("W1", "W2", "W3"):
                    correct += (out.argmax(1) == yb).sum()
                elif wid == "W6":
                    correct += ((out > 0).float() == yb).sum()
        final_loss = float(total) / n
        timer.end()
    return timer.times[1:], {"final_loss": final_loss}


if __name__ == "__main__":
    main(run_one, "torch")
