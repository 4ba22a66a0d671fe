#!/usr/bin/env python3
# An independent re-typing of the RD reference's Caser training (graytowne/rank_distill: caser.py, the
# loop of train_caser.py, evaluation.py; docs/design/rankdistill.md sections 1-5), on PocketRec's RD-protocol split
# of a check-in proxy. It exists to tell an implementation defect from a property of the data: its
# MAP compares with the Caser-T and BPR-MF rows and grids of docs/results/rd-gowalla/table.md and
# rd-foursquare/table.md. Not part of the build or the tests; needs Debian's python3-torch and
# python3-numpy (not installed by scripts/setup.sh):
#   /usr/bin/python3 tools/reference/rd_caser_reference.py --drop 0.7
#   /usr/bin/python3 tools/reference/rd_caser_reference.py --data ../shared/data/foursquare-lbsn5k/Foursquare_checkins.txt --drop 0.7
#   /usr/bin/python3 tools/reference/rd_caser_reference.py --model bpr --d 128 --lr 0.005 --l2 0.00001 --epochs 150
# --model bpr is a plain BPR-MF in the same loop (pairwise loss on the same negatives), not a re-typing.
import sys, math, time, argparse
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument('--data', default='../shared/data/gowalla-lbsn1k/Gowalla_checkins.txt')
ap.add_argument('--d', type=int, default=100)
ap.add_argument('--drop', type=float, default=0.5)
ap.add_argument('--ac_conv', default='iden')
ap.add_argument('--ac_fc', default='sigm')
ap.add_argument('--epochs', type=int, default=50)
ap.add_argument('--seed', type=int, default=1234)
ap.add_argument('--l2', type=float, default=1e-6)
ap.add_argument('--lr', type=float, default=1e-3)
ap.add_argument('--nv', type=int, default=2)
ap.add_argument('--nh', type=int, default=16)
ap.add_argument('--neg', type=int, default=3)
ap.add_argument('--model', default='caser')  # caser | bpr
args = ap.parse_args()
torch.set_num_threads(1)
np.random.seed(args.seed); torch.manual_seed(args.seed)

# ---- data: PocketRec's pipeline (first-appearance ids, stable time sort, dedup first, item 5-core,
# per-user 70/10/20 with C lround)
users, items, rows = {}, {}, []
for line in open(args.data):
    u, i, t = line.rstrip('\n').split('\t')
    rows.append((users.setdefault(u, len(users)), items.setdefault(i, len(items)), float(t)))
seqs = [[] for _ in users]
for u, i, t in rows: seqs[u].append((t, i))
seqs = [[i for t, i in sorted(s, key=lambda x: x[0])] for s in seqs]
seqs = [list(dict.fromkeys(s)) for s in seqs]
while True:
    cnt = {}
    for s in seqs:
        for i in s: cnt[i] = cnt.get(i, 0) + 1
    new = [[i for i in s if cnt[i] >= 5] for s in seqs]
    if sum(map(len, new)) == sum(map(len, seqs)): break
    seqs = new
seqs = [s for s in seqs if s]
imap = {}
for s in seqs:
    for i in s: imap.setdefault(i, len(imap) + 1)   # +1: 0 is padding
seqs = [[imap[i] for i in s] for s in seqs]
I = len(imap) + 1; U = len(seqs)
lround = lambda x: int(math.floor(x + 0.5))
train, valid, test = [], [], []
for s in seqs:
    n = len(s); nt = max(1, lround(n * 0.2)); nv = max(1, lround(n * 0.1)); ntr = n - nt - nv
    if ntr < 1: train.append(s); valid.append([]); test.append([]); continue
    train.append(s[:ntr]); valid.append(s[ntr:ntr + nv]); test.append(s[ntr + nv:])
print(f'users {U} items {I-1} train {sum(map(len,train))} valid {sum(map(len,valid))} test {sum(map(len,test))}')

L = 5
seq_in, tgt, uid = [], [], []
for u, s in enumerate(train):
    c = len(s)
    if c <= 1: continue
    if c < L + 1:
        seq_in.append([0] * (L + 1 - c) + s[:-1]); tgt.append(s[-1]); uid.append(u); continue
    for p in range(L, c):
        seq_in.append(s[p - L:p]); tgt.append(s[p]); uid.append(u)
seq_in = np.array(seq_in, dtype=np.int64); tgt = np.array(tgt, dtype=np.int64); uid = np.array(uid, dtype=np.int64)
print('training instances', len(tgt))
cand = []
for u in range(U):
    m = np.ones(I, bool); m[0] = False; m[train[u]] = False
    cand.append(np.nonzero(m)[0])

acts = {'iden': lambda x: x, 'relu': F.relu, 'tanh': torch.tanh, 'sigm': torch.sigmoid}

class Caser(nn.Module):
    def __init__(s, d):
        super().__init__()
        s.E = nn.Embedding(I, d); s.P = nn.Embedding(U, d)
        s.conv_v = nn.Conv2d(1, args.nv, (L, 1))
        s.conv_h = nn.ModuleList([nn.Conv2d(1, args.nh, (h, d)) for h in range(1, L + 1)])
        s.fc1 = nn.Linear(args.nv * d + args.nh * L, d)
        s.W2 = nn.Embedding(I, 2 * d); s.b2 = nn.Embedding(I, 1)
        s.drop = nn.Dropout(args.drop)
        s.E.weight.data.normal_(0, 1.0 / d); s.P.weight.data.normal_(0, 1.0 / d)
        s.W2.weight.data.normal_(0, 1.0 / (2 * d)); s.b2.weight.data.zero_()
    def x(s, seq, user):
        X = s.E(seq).unsqueeze(1)
        ov = s.conv_v(X).view(X.size(0), -1)
        oh = [F.max_pool1d(acts[args.ac_conv](c(X).squeeze(3)), L - h).squeeze(2) for h, c in enumerate(s.conv_h)]
        o = s.drop(torch.cat([ov] + oh, 1))
        z = acts[args.ac_fc](s.fc1(o))
        return torch.cat([z, s.P(user)], 1)
    def forward(s, seq, user, it):
        x = s.x(seq, user)
        return torch.baddbmm(s.b2(it), s.W2(it), x.unsqueeze(2)).squeeze(2)
    def all_scores(s, seq, user):
        return s.x(seq, user) @ s.W2.weight.t() + s.b2.weight.t()

class BPR(nn.Module):
    def __init__(s, d):
        super().__init__(); s.P = nn.Embedding(U, d); s.Q = nn.Embedding(I, d)
        s.P.weight.data.normal_(0, 0.01); s.Q.weight.data.normal_(0, 0.01)
    def forward(s, seq, user, it):
        return (s.Q(it) * s.P(user).unsqueeze(1)).sum(2)
    def all_scores(s, seq, user):
        return s.P(user) @ s.Q.weight.t()

model = (Caser if args.model == 'caser' else BPR)(args.d)
opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.l2)

def evaluate(split):
    model.eval()
    hist = [train[u] + (valid[u] if split == 'test' else []) for u in range(U)]
    tg = test if split == 'test' else valid
    us = [u for u in range(U) if tg[u]]
    aps, p10 = [], []
    with torch.no_grad():
        for b in range(0, len(us), 256):
            ub = us[b:b + 256]
            sq = torch.tensor([([0] * L + hist[u])[-L:] for u in ub]); ut = torch.tensor(ub)
            S = model.all_scores(sq, ut).numpy().astype(np.float64)
            for r, u in enumerate(ub):
                sc = S[r]; sc[0] = -np.inf; sc[hist[u]] = -np.inf
                ts = np.sort(np.array([(sc > sc[t]).sum() + 1 for t in set(tg[u])]))
                aps.append(np.mean(np.arange(1, len(ts) + 1) / ts)); p10.append((ts <= 10).sum() / 10)
    model.train()
    return float(np.mean(aps)), float(np.mean(p10))

best = (-1, 0, None)
for ep in range(1, args.epochs + 1):
    t0 = time.time()
    perm = np.random.permutation(len(tgt))
    negs = np.stack([cand[u][np.random.randint(len(cand[u]), size=args.neg)] for u in uid[perm]])
    tot = 0.0
    for b in range(0, len(perm), 512):
        idx = perm[b:b + 512]
        it = torch.from_numpy(np.concatenate([tgt[idx, None], negs[b:b + 512]], 1))
        s = model(torch.from_numpy(seq_in[idx]), torch.from_numpy(uid[idx]), it)
        if args.model == 'caser':
            loss = (F.softplus(-s[:, :1]).sum(1) + F.softplus(s[:, 1:]).sum(1)).mean()
        else:
            loss = F.softplus(-(s[:, :1] - s[:, 1:])).mean()
        opt.zero_grad(); loss.backward(); opt.step(); tot += loss.item()
    vmap, vp = evaluate('valid')
    if vmap > best[0]:
        tmap, tp = evaluate('test'); best = (vmap, ep, (tmap, tp))
    print(f'epoch {ep} loss {tot:.3f} valid MAP {vmap:.4f} ({time.time()-t0:.1f}s)', flush=True)
print(f'best epoch {best[1]} valid MAP {best[0]:.4f} test MAP {best[2][0]:.4f} test P@10 {best[2][1]:.4f}')
