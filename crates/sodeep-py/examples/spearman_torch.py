import torch
import sodeep.torch as st

torch.manual_seed(0)
x = torch.randn(512, 8)
y = x[:, 0] ** 3 + 0.5 * x[:, 1] + 0.1 * torch.randn(512)  # a monotone signal to rank by
model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
for step in range(200):
    batch = torch.randint(0, 512, (64,))
    loss = st.spearman_loss(model(x[batch]).squeeze(1), y[batch], ranker="softrank:eps=0.1")
    opt.zero_grad(); loss.backward(); opt.step()
with torch.no_grad():  # exact Spearman correlation of the trained scores
    r = lambda v: v.argsort().argsort().double()
    rho = torch.corrcoef(torch.stack([r(model(x).squeeze(1)), r(y)]))[0, 1]
print(f"Spearman correlation: {rho:.3f}")
