#!/usr/bin/env python3
"""Projected epoch time and efficiency of data-parallel training on H hosts (docs/distributed.md).

    python3 tools/distributed_projection.py --sample-seconds S --params P --samples N [--items-scale X]

Model (every input is printed with the table):
  - compute: a host (2 cores, one rank with 2 threads) spends S seconds per training sample, the
    figure measured by `pocketrec train ... --threads.torch=2` on this machine (epoch seconds / samples);
    --items-scale multiplies it for a catalogue X times larger (the full-softmax products dominate and
    grow with the item count);
  - communication: one ring all-reduce of B = 4 P + 8 bytes per step (every gradient, dense, as
    src/train/data_parallel.cpp sends it): each host sends and receives 2 (H - 1) / H * B bytes over a
    10 Gbit/s link (1.25e9 bytes/s), plus 2 (H - 1) hops of 50 us latency; not overlapped with compute;
  - strong scaling keeps the global batch G (each host computes G / H samples per step); weak scaling
    keeps G per host (global batch G * H, which needs its own learning rate).
"""
import argparse

ap = argparse.ArgumentParser()
ap.add_argument("--sample-seconds", type=float, required=True)
ap.add_argument("--params", type=int, required=True)
ap.add_argument("--samples", type=int, required=True)
ap.add_argument("--batch", type=int, default=100)
ap.add_argument("--items-scale", type=float, default=1.0)
ap.add_argument("--label", default="")
a = ap.parse_args()

BW, HOP = 1.25e9, 50e-6
s = a.sample_seconds * a.items_scale
B = 4 * a.params + 8
print(f"{a.label}: {a.params:,} parameters -> {B / 1e6:.1f} MB all-reduced per step; "
      f"{s * 1e3:.3f} ms per sample on one host; {a.samples:,} samples per epoch, batch {a.batch}")
print("| hosts | scaling | samples per host per step | compute per step | all-reduce per step | epoch | efficiency |")
print("|---|---|---|---|---|---|---|")
one_host_epoch = a.samples * s
for H in (1, 8, 64):
    comm = 0.0 if H == 1 else 2 * (H - 1) / H * B / BW + 2 * (H - 1) * HOP
    for scaling, per_host, global_batch in (("strong", a.batch / H, a.batch), ("weak", a.batch, a.batch * H)):
        if H == 1 and scaling == "weak":
            continue
        compute = per_host * s
        steps = a.samples / global_batch
        epoch = steps * (compute + comm)
        eff = one_host_epoch / (H * epoch)
        print(f"| {H} | {scaling if H > 1 else '-'} | {per_host:g} | {compute * 1e3:.1f} ms | {comm * 1e3:.1f} ms | "
              f"{epoch:.0f} s | {100 * eff:.0f}% |")
