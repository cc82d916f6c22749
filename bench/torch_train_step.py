#!/usr/bin/env python3
"""PyTorch-eager reference of one VPT-deep train step, for bench/train-step.mjs.

A small faithful model: timm's ViT block math (fused qkv, SDPA, exact GELU, LayerNorm 1e-6),
frozen backbone (requires_grad=False), deep prompts inserted after CLS, linear head, softmax
cross-entropy, SGD momentum step -- the same work vpt-native's trainStep does. Prints JSON.
Run with the same torch as vpt-native's LibTorch, e.g. PYTHONPATH=.deps/torch-cpu python3 ...
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F


def make_params(D, L, patch, img, classes, tokens, device):
    g = torch.Generator().manual_seed(0)
    P = (img // patch) ** 2
    r = lambda *s: (torch.randn(*s, generator=g) * 0.02)
    frozen = {
        "patch_w": r(D, 3, patch, patch), "patch_b": torch.zeros(D), "cls": r(1, 1, D), "pos": r(1, P + 1, D),
        "norm_w": torch.ones(D), "norm_b": torch.zeros(D),
        "blocks": [
            {"n1w": torch.ones(D), "n1b": torch.zeros(D), "qkv_w": r(3 * D, D), "qkv_b": torch.zeros(3 * D),
             "proj_w": r(D, D), "proj_b": torch.zeros(D), "n2w": torch.ones(D), "n2b": torch.zeros(D),
             "fc1_w": r(4 * D, D), "fc1_b": torch.zeros(4 * D), "fc2_w": r(D, 4 * D), "fc2_b": torch.zeros(D)}
            for _ in range(L)
        ],
    }
    v = math.sqrt(6.0 / (3 * patch * patch + D))
    trainable = {
        "prompt": torch.empty(1, tokens, D).uniform_(-v, v).requires_grad_(),
        "deep": torch.empty(L - 1, tokens, D).uniform_(-v, v).requires_grad_(),
        "head_w": (torch.randn(classes, D) * 0.01).requires_grad_(),
        "head_b": torch.zeros(classes).requires_grad_(),
    }
    to = lambda t: t.to(device)
    frozen = {k: ([{bk: to(bv) for bk, bv in b.items()} for b in v] if k == "blocks" else to(v)) for k, v in frozen.items()}
    trainable = {k: v.detach().to(device).requires_grad_() for k, v in trainable.items()}
    return frozen, trainable


def forward(x, f, t, heads, patch):
    B = x.shape[0]
    D = f["patch_w"].shape[0]
    N = t["prompt"].shape[1]
    h = F.conv2d(x, f["patch_w"], f["patch_b"], stride=patch).flatten(2).transpose(1, 2)
    h = torch.cat([f["cls"].expand(B, -1, -1), h], 1) + f["pos"]
    h = torch.cat([h[:, :1], t["prompt"].expand(B, -1, -1), h[:, 1:]], 1)
    for i, b in enumerate(f["blocks"]):
        if i > 0:
            h = torch.cat([h[:, :1], t["deep"][i - 1 : i].expand(B, -1, -1), h[:, 1 + N :]], 1)
        T = h.shape[1]
        y = F.layer_norm(h, (D,), b["n1w"], b["n1b"], 1e-6)
        qkv = F.linear(y, b["qkv_w"], b["qkv_b"]).reshape(B, T, 3, heads, D // heads).permute(2, 0, 3, 1, 4)
        # unbind, as timm's Attention splits q / k / v (one stacked gradient in the backward)
        q, k, v = qkv.unbind(0)
        a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, D)
        h = h + F.linear(a, b["proj_w"], b["proj_b"])
        y = F.layer_norm(h, (D,), b["n2w"], b["n2b"], 1e-6)
        h = h + F.linear(F.gelu(F.linear(y, b["fc1_w"], b["fc1_b"])), b["fc2_w"], b["fc2_b"])
    h = F.layer_norm(h, (D,), f["norm_w"], f["norm_b"], 1e-6)
    return F.linear(h[:, 0], t["head_w"], t["head_b"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--embed", type=int, required=True)
    ap.add_argument("--depth", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=10)
    ap.add_argument("--img", type=int, default=224)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="torch.compile the forward (the strongest peer on GPU)")
    a = ap.parse_args()
    # Peak RSS growth from here (after `import torch`), as vpt-native's side measures its own.
    rss_before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    f, t = make_params(a.embed, a.depth, a.patch, a.img, a.classes, a.tokens, a.device)
    cuda = a.device.startswith("cuda")
    opt = torch.optim.SGD(t.values(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(a.batch, 3, a.img, a.img, generator=torch.Generator().manual_seed(1)).to(a.device)
    y = torch.randint(0, a.classes, (a.batch,), generator=torch.Generator().manual_seed(2)).to(a.device)
    step_forward = torch.compile(forward) if a.compile else forward
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(a.warmup + a.steps):
        start = time.perf_counter()
        with torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            logits = step_forward(x, f, t, a.heads, a.patch)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        float(loss.detach())
        if i >= a.warmup:
            times.append(time.perf_counter() - start)
    times.sort()
    peak = torch.cuda.max_memory_allocated() if cuda else None
    peak_rss_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before_kib) / 1024
    # The eval step as an evaluation loop runs it: forward without autograd, then top-1.
    eval_times = []
    for i in range(a.warmup + a.steps):
        start = time.perf_counter()
        with torch.inference_mode(), torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16,
                                                    enabled=a.precision == "bf16"):
            correct = int((step_forward(x, f, t, a.heads, a.patch).argmax(1) == y).sum())
        if i >= a.warmup:
            eval_times.append(time.perf_counter() - start)
    eval_times.sort()
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "msPerStep": 1000 * times[len(times) // 2], "steps": a.steps, "peakBytes": peak,
                      "peakRssMiB": peak_rss_mib,
                      "evalMsPerStep": 1000 * eval_times[len(eval_times) // 2], "compiled": a.compile,
                      "evalCorrect": correct}))


if __name__ == "__main__":
    main()
