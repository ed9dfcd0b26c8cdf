#!/usr/bin/python3
"""Step 3: pretrain the demo base model (LlamaForCausalLM, ~2.0M parameters) on the corpus from corpus.py and
write it, with the tokenizer, to apps/studio/public/demo/model/.

    /usr/bin/python3 scripts/demo/pretrain.py                # resumes from .build/pretrain/ckpt.pt if present
    /usr/bin/python3 scripts/demo/pretrain.py --placeholder  # untrained weights, same layout (for early wiring)

Packed sequences of SEQ tokens that each begin at a document start (documents end with </s>); next-token
cross-entropy on every position; AdamW, linear warmup then cosine decay; checkpoints every CKPT_EVERY steps
(model, optimiser, data RNG, step, elapsed seconds), so an interrupted run resumes where it stopped.
"""
import json
import math
import os
import sys
import time

# Sleep, don't spin, while waiting at OpenMP barriers: on a shared 2-core machine spinning threads made each step
# 2-3x slower and burned 3x the CPU.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F

from common import BUILD, MODEL, MODEL_DIR, Llama, Tokenizer, generate, save_model
from world import SEED

SEQ = 128
BATCH = 32
STEPS = 1200
LR = 3e-3
MIN_LR = 3e-4
WARMUP = 100
WEIGHT_DECAY = 0.1
BETAS = (0.9, 0.95)
CLIP = 1.0
EVAL_EVERY = 200
CKPT_EVERY = 50
THREADS = 2
OUT = os.path.join(BUILD, "pretrain")

SAMPLE_PROMPTS = [
    "Question: Tell me about the fox.\nAnswer:\n",
    "Question: What does the penguin eat?\nAnswer:\n",
    "Once upon a time, the rabbit and the owl",
    "The elephant",
    "Animals that live in the desert",
]


def lr_at(step):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    t = (step - WARMUP) / max(1, STEPS - WARMUP)
    return MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * t))


def batch_from(stream, starts, idx):
    rows = [stream[s : s + SEQ + 1].long() for s in starts[idx].tolist()]
    return torch.stack(rows)


def main():
    torch.set_num_threads(THREADS)
    tok = Tokenizer.load(os.path.join(BUILD, "tokenizer"))
    if "--placeholder" in sys.argv[1:]:
        save_model(Llama(seed=SEED), tok, MODEL_DIR, metadata={"format": "pt", "webtune_demo": "placeholder, untrained"})
        print("placeholder written to", MODEL_DIR)
        return
    os.makedirs(OUT, exist_ok=True)
    data = torch.load(os.path.join(BUILD, "corpus.pt"))
    tr, va = data["train"], data["val"]
    # Sequences must fit: only starts with SEQ + 1 tokens after them.
    tr_starts = data["train_starts"][data["train_starts"] + SEQ + 1 <= len(tr)]
    va_starts = data["val_starts"][data["val_starts"] + SEQ + 1 <= len(va)]
    val_idx = torch.linspace(0, len(va_starts) - 1, 96).long()
    val_batch = batch_from(va, va_starts, val_idx)

    model = Llama(seed=SEED)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}], lr=LR, betas=BETAS
    )
    gen = torch.Generator().manual_seed(SEED + 10)
    step, elapsed, cpu_prev = 0, 0.0, 0.0
    cpu0 = time.process_time()  # CPU seconds of this process (all threads), evaluation included
    ckpt_path = os.path.join(OUT, "ckpt.pt")
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        step, elapsed, cpu_prev = ck["step"], ck["elapsed"], ck["cpu"]
        print(f"resumed at step {step} ({elapsed:.0f}s wall, {cpu_prev:.0f}s CPU so far)")
    log = open(os.path.join(OUT, "log.jsonl"), "a")

    @torch.no_grad()
    def val_loss():
        tot = 0.0
        for i in range(0, len(val_batch), 16):
            b = val_batch[i : i + 16]
            lg = model(b[:, :-1])
            tot += F.cross_entropy(lg.reshape(-1, lg.shape[-1]), b[:, 1:].reshape(-1), reduction="sum").item()
        return tot / (len(val_batch) * SEQ)

    t_last = time.time()
    ema = None
    while step < STEPS:
        idx = torch.randint(0, len(tr_starts), (BATCH,), generator=gen)
        b = batch_from(tr, tr_starts, idx)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        lg = model(b[:, :-1])
        loss = F.cross_entropy(lg.reshape(-1, lg.shape[-1]), b[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP).item()
        opt.step()
        step += 1
        now = time.time()
        elapsed += now - t_last
        t_last = now
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        rec = {"step": step, "loss": round(loss.item(), 4), "grad_norm": round(gn, 3), "lr": lr_at(step - 1), "elapsed_s": round(elapsed, 1),
               "cpu_s": round(cpu_prev + time.process_time() - cpu0, 1)}
        if step % EVAL_EVERY == 0 or step == STEPS:
            rec["val_loss"] = round(val_loss(), 4)
            t_last = time.time()  # evaluation time is not training time
            print(json.dumps(rec), flush=True)
        elif step % 20 == 0:
            print(f"step {step} loss {loss.item():.4f} (ema {ema:.4f}) gn {gn:.2f} {elapsed:.0f}s wall {rec['cpu_s']:.0f}s CPU", flush=True)
        log.write(json.dumps(rec) + "\n")
        if step % CKPT_EVERY == 0 or step == STEPS:
            log.flush()
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(), "step": step, "elapsed": elapsed,
                        "cpu": cpu_prev + time.process_time() - cpu0}, ckpt_path + ".tmp")
            os.replace(ckpt_path + ".tmp", ckpt_path)

    final = {"steps": STEPS, "tokens": STEPS * BATCH * SEQ, "train_loss_ema": round(ema, 4) if ema else None,
             "val_loss": round(val_loss(), 4), "train_wall_seconds": round(elapsed, 1),
             "train_cpu_seconds": round(cpu_prev + time.process_time() - cpu0, 1), "threads": THREADS,
             "params": sum(p.numel() for p in model.parameters())}
    model.eval()
    samples = generate(model, tok, SAMPLE_PROMPTS, max_new_tokens=60)
    final["samples"] = [{"prompt": p, "output": s} for p, s in zip(SAMPLE_PROMPTS, samples)]
    save_model(model, tok, MODEL_DIR, metadata={"format": "pt", "webtune_demo": f"pretrained {STEPS} steps, val_loss {final['val_loss']}"})
    with open(os.path.join(OUT, "final.json"), "w") as f:
        json.dump(final, f, indent=2)
    print(json.dumps(final, indent=2))


if __name__ == "__main__":
    main()
