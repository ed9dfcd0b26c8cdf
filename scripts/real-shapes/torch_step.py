#!/usr/bin/python3
"""The PyTorch baseline for webtune's LoRA SFT step: the same step in eager PyTorch, timed on the same machine.

    python3 scripts/real-shapes/torch_step.py smollm2-135m --device cuda --dtype float32 --batch-size 4 --max-length 512
    python3 scripts/real-shapes/torch_step.py qwen2.5-0.5b --device cuda --dtype bfloat16 --json out.json
    /usr/bin/python3 scripts/real-shapes/torch_step.py --check     # the model against the fixtures' goldens (CPU)

The step is the one `pnpm bench --model NAME --batch-size B --max-length T` times (packages/trainer/bench/real-shapes.ts):
a random checkpoint of the released model's shape (scripts/real-shapes/configs.json), B sequences of T random tokens
whose last 3/4 are the completion, LoRA r16 / alpha 32 with dropout 0.05 on all seven projections, each decoder layer
recomputed in the backward (gradient checkpointing: TRL's default and webtune's), the token-weighted mean NLL of the
completion, the gradient norm clipped to 1 and an AdamW step on the LoRA parameters (lr 2e-4, as webtune's SFT).

The model is written here in plain torch from transformers' Llama / Qwen2 / Qwen3 modeling code (the float64 reference
in packages/trainer/test/fixtures/make_fixtures.py cites the commits), as transformers' eager classes compute it:
F.linear per projection, RoPE from float32 inverse frequencies, repeat_kv for grouped heads, attention through
F.scaled_dot_product_attention (transformers' default "sdpa"; an explicit softmax where torch < 2.0 has none), logits
for every position over the whole vocabulary, torch.utils.checkpoint per layer. No transformers or peft is needed, so
it runs wherever torch does. --dtype float32 is float32 throughout (TF32 off, torch's default); --dtype bfloat16 holds
the base weights in bf16 and the LoRA parameters in float32 under torch.autocast (a bf16 checkpoint trained with
TRL's bf16=True and PEFT's default float32 adapter).

Left out, as in webtune's step: the per-step metrics TRL's SFTTrainer adds (the entropy and token accuracy over the
vocabulary), which would cost PyTorch more.

--check runs the model in float64 on each fixture of packages/trainer/test/fixtures it covers and compares the SFT loss
and every LoRA gradient with the goldens there, which webtune's engine matches too (model.gpu.test.ts): the baseline
computes the same step. Needs torch (Debian's python3-torch; numpy for --check).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "packages", "trainer", "test", "fixtures")
sys.path.insert(0, HERE)
from make_checkpoint import CONFIGS, tensors  # noqa: E402  the real shapes, and each tensor of a checkpoint

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SUPPORTED = ("llama", "qwen2", "qwen3")
# The fixtures --check covers: the architectures above (Gemma 3, Mistral's window and SmolLM3's NoPE are not built here).
CHECKED = ("llama-gqa-bf16", "llama-tied-f32", "qwen2-bias-f16", "qwen3-qknorm-bf16")
# golden.json holds the SFT loss in float64; golden.safetensors the gradients rounded to float32 (2^-24 relative at most).
LOSS_BOUND, GRAD_BOUND = 1e-12, 2.0**-24
# torch >= 2.5: scaled_dot_product_attention takes grouped key/value heads (enable_gqa), as transformers then uses it.
SDPA_GQA = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 5)


def refuse_unsupported(c, where):
    if c["model_type"] not in SUPPORTED:
        sys.exit(f"{where}: model_type {c['model_type']!r} is not in this baseline ({', '.join(SUPPORTED)}); time smollm2-135m or qwen2.5-0.5b")
    if c.get("rope_scaling"):
        sys.exit(f"{where}: rope_scaling {c['rope_scaling']} is not in this baseline; time smollm2-135m or qwen2.5-0.5b")


def module(i, proj):
    return f"model.layers.{i}.{'mlp' if proj in ('gate_proj', 'up_proj', 'down_proj') else 'self_attn'}.{proj}"


class Decoder:
    """Weights `w` (name -> tensor, frozen), LoRA `lora` (module path -> (A [r, in], B [out, r]), trainable)."""

    def __init__(self, c, w, lora, scale, dropout, recompute):
        self.c, self.w, self.lora, self.scale, self.dropout, self.recompute = c, w, lora, scale, dropout, recompute
        self.hd = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]

    def linear(self, x, path):
        y = F.linear(x, self.w[path + ".weight"], self.w.get(path + ".bias"))
        if path in self.lora:  # PEFT's Linear: x cast to the adapter's dtype, then y + B(A(dropout(x))) * scale
            A, B = self.lora[path]
            y = y + F.linear(F.linear(F.dropout(x.to(A.dtype), self.dropout), A), B) * self.scale
        return y

    def norm(self, x, key):  # LlamaRMSNorm: in float32, back to the input's dtype, times the weight
        v = x.float() if x.dtype != torch.float64 else x
        v = v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + self.c["rms_norm_eps"])
        return self.w[key] * v.to(x.dtype)

    def rope(self, T, device, dtype):
        f = torch.float64 if dtype == torch.float64 else torch.float32
        inv = 1.0 / self.c["rope_theta"] ** (torch.arange(0, self.hd, 2, dtype=f, device=device) / self.hd)
        ang = torch.arange(T, dtype=f, device=device)[:, None] * inv[None, :]
        emb = torch.cat([ang, ang], dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def attention(self, x, i, mask, cos, sin):
        c, hd = self.c, self.hd
        Bsz, T, _ = x.shape
        nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
        q = self.linear(x, module(i, "q_proj")).view(Bsz, T, nh, hd)
        k = self.linear(x, module(i, "k_proj")).view(Bsz, T, nkv, hd)
        v = self.linear(x, module(i, "v_proj")).view(Bsz, T, nkv, hd).transpose(1, 2)
        if f"model.layers.{i}.self_attn.q_norm.weight" in self.w:  # Qwen3: RMSNorm over each head before RoPE
            q, k = self.norm(q, f"model.layers.{i}.self_attn.q_norm.weight"), self.norm(k, f"model.layers.{i}.self_attn.k_norm.weight")
        q, k = q.transpose(1, 2), k.transpose(1, 2)

        def rotate(t):
            half = t.shape[-1] // 2
            return t * cos + torch.cat([-t[..., half:], t[..., :half]], dim=-1) * sin

        q, k = rotate(q), rotate(k)
        m = None if mask is None else mask[i]
        if m is None and SDPA_GQA:  # transformers' use_gqa_in_sdpa: the kernel reads the shared heads itself
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        elif hasattr(F, "scaled_dot_product_attention"):
            k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)  # repeat_kv
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=m, is_causal=m is None)
        else:  # torch < 2.0: the same softmax(q k^T / sqrt(hd)) v, written out
            k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)  # repeat_kv
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            allowed = torch.ones(T, T, dtype=torch.bool, device=x.device).tril() if m is None else m
            o = torch.softmax(s.masked_fill(~allowed, -math.inf), dim=-1) @ v
        return self.linear(o.transpose(1, 2).reshape(Bsz, T, nh * hd), module(i, "o_proj"))

    def layer(self, x, i, mask, cos, sin):
        p = f"model.layers.{i}."
        x = x + self.attention(self.norm(x, p + "input_layernorm.weight"), i, mask, cos, sin)
        h = self.norm(x, p + "post_attention_layernorm.weight")
        return x + self.linear(F.silu(self.linear(h, module(i, "gate_proj"))) * self.linear(h, module(i, "up_proj")), module(i, "down_proj"))

    def loss(self, ids, labels, mask=None):
        """Token-weighted mean NLL of `labels` (-100: not counted); `mask`: per layer [B, 1, T, T] allowed keys, or None (causal)."""
        embed = self.w["model.embed_tokens.weight"]
        x = embed[ids]
        cos, sin = self.rope(ids.shape[1], ids.device, x.dtype)
        for i in range(self.c["num_hidden_layers"]):
            if self.recompute:
                x = checkpoint(self.layer, x, i, mask, cos, sin, use_reentrant=False)
            else:
                x = self.layer(x, i, mask, cos, sin)
        x = self.norm(x, "model.norm.weight")
        logits = F.linear(x, self.w.get("lm_head.weight", embed))
        if logits.dtype != torch.float64:
            logits = logits.float()  # transformers' loss upcasts the logits
        # ForCausalLMLoss: the labels shift (padded with -100), not the logits, which are never copied again.
        shifted = F.pad(labels, (0, 1), value=-100)[:, 1:]
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), shifted.reshape(-1), ignore_index=-100)


def random_model(name, dtype, device, r, alpha, dropout, recompute, seed):
    c = CONFIGS[name]
    refuse_unsupported(c, name)
    g = torch.Generator(device=device).manual_seed(seed)
    w = {}
    for tensor, shape, kind in tensors(c):  # N(0, 0.02) matrices and biases, norms at 1: make_checkpoint.py's
        if kind == "norm":
            w[tensor] = torch.ones(shape, device=device, dtype=dtype)
        else:
            w[tensor] = (torch.randn(shape, generator=g, device=device) * 0.02).to(dtype)
    lora = {}  # PEFT's init: A kaiming-uniform with a = sqrt(5), i.e. U(+-1/sqrt(in)); B zero; float32, trainable
    for path in [module(i, p) for i in range(c["num_hidden_layers"]) for p in TARGETS]:
        out_features, in_features = w[path + ".weight"].shape
        bound = 1 / math.sqrt(in_features)
        A = ((torch.rand(r, in_features, generator=g, device=device) * 2 - 1) * bound).requires_grad_()
        lora[path] = (A, torch.zeros(out_features, r, device=device, requires_grad=True))
    return Decoder(c, w, lora, alpha / r, dropout, recompute)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(a):
    torch.manual_seed(a.seed)
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[a.dtype]
    model = random_model(a.model, dtype, a.device, a.lora_r, a.lora_alpha, a.lora_dropout, not a.no_checkpointing, a.seed)
    params = [p for ab in model.lora.values() for p in ab]
    # transformers' default optimizer on CUDA is the fused AdamW ("adamw_torch_fused").
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=0.0, **({"fused": True} if a.device.startswith("cuda") else {}))
    B, T, V = a.batch_size, a.max_length, model.c["vocab_size"]
    g = torch.Generator(device=a.device).manual_seed(a.seed + 1)
    ids = torch.randint(1, V, (B, T), generator=g, device=a.device)
    labels = ids.clone()
    labels[:, : T // 4] = -100  # the prompt: its tokens are not in the loss (the bench's completionStart T/4)
    autocast = torch.autocast("cuda" if a.device.startswith("cuda") else "cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)

    def step():
        with autocast:
            loss = model.loss(ids, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    first = None
    for _ in range(a.warmup):
        loss = step()
        first = float(loss) if first is None else first
    if a.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    while len(times) < a.steps:
        sync(a.device)
        t0 = time.perf_counter()
        step()
        sync(a.device)
        times.append(time.perf_counter() - t0)
    ms = statistics.median(times) * 1000
    return {
        "case": f"SFT step, {B} x {T} tokens: {a.model} shape (random), LoRA r{a.lora_r} on all seven projections, AdamW, "
        f"activations {'kept' if a.no_checkpointing else 'recomputed'}",
        "framework": f"PyTorch {torch.__version__} eager ({'sdpa' if hasattr(F, 'scaled_dot_product_attention') else 'explicit softmax'})",
        "dtype": a.dtype,
        "device": torch.cuda.get_device_name() if a.device.startswith("cuda") else f"cpu ({torch.get_num_threads()} threads)",
        "tf32": bool(torch.backends.cuda.matmul.allow_tf32),
        "msPerStep": ms,
        "tokensPerSecond": B * T / (ms / 1000),
        "steps": len(times),
        "firstLoss": first,
        "peakGpuBytes": torch.cuda.max_memory_allocated() if a.device.startswith("cuda") else None,
        "parameters": sum(t.numel() for t in model.w.values()),
    }


def check():
    """Float64 on CPU, every fixture CHECKED: the SFT loss and every LoRA gradient against golden.json / golden.safetensors."""
    sys.path.insert(0, FIXTURES)
    from make_fixtures import read_safetensors  # the fixtures' own reader: name -> float64 tensor

    ok = True
    for name in CHECKED:
        d = os.path.join(FIXTURES, name)
        c = json.load(open(os.path.join(d, "config.json")))
        refuse_unsupported(c, name)
        gold = json.load(open(os.path.join(d, "golden.json")))
        golden = read_safetensors(os.path.join(d, "golden.safetensors"))
        w = read_safetensors(os.path.join(d, "model.safetensors"))
        adapter = read_safetensors(os.path.join(d, "adapter", "adapter_model.safetensors"))
        lora = {}
        for key, A in adapter.items():
            if ".lora_A." in key:
                path = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
                lora[path] = (A.clone().requires_grad_(), adapter[key.replace("lora_A", "lora_B")].clone().requires_grad_())
        inputs = gold["inputs"]
        ids = torch.tensor(inputs["input_ids"])
        labels = ids.masked_fill(torch.tensor(inputs["completion_mask"]) == 0, -100)
        T = ids.shape[1]
        keys = torch.tensor(inputs["attention_mask"]).bool()[:, None, None, :]
        qi, ki = torch.arange(T)[:, None], torch.arange(T)[None, :]
        slides = lambda i: c.get("use_sliding_window") and c.get("sliding_window") and i >= c.get("max_window_layers", 0)  # noqa: E731
        masks = [keys & (ki <= qi) & ((ki > qi - c["sliding_window"]) if slides(i) else True) for i in range(c["num_hidden_layers"])]
        for recompute in (False, True):
            model = Decoder(c, w, lora, gold["lora"]["scale"], 0.0, recompute)
            loss = model.loss(ids, labels, masks)
            grads = torch.autograd.grad(loss, [t for ab in lora.values() for t in ab])
            loss_error = abs(float(loss) - gold["sft_loss"]) / abs(gold["sft_loss"])
            grad_errors = {}  # each element's relative error (the goldens are float32, none of them 0)
            for (path, _), gA, gB in zip(lora.items(), grads[0::2], grads[1::2]):
                for part, g in (("lora_A", gA), ("lora_B", gB)):
                    want = golden[f"grad_sft.base_model.model.{path}.{part}.weight"]
                    grad_errors[f"{path}.{part}"] = float(((g - want).abs() / want.abs()).max())
            key, grad_error = max(grad_errors.items(), key=lambda kv: kv[1])
            ok = ok and loss_error <= LOSS_BOUND and grad_error <= GRAD_BOUND
            print(f"{name}{' (recomputed)' if recompute else ''}: loss {float(loss):.12f}, golden {gold['sft_loss']:.12f} "
                  f"(relative error {loss_error:.1e}); {len(grad_errors)} gradients, largest relative error {grad_error:.2e} ({key})")
        # The timed step passes no mask (causal, and grouped heads in the kernel on torch >= 2.5): on the same rows with
        # only the causal mask, the masked path above must give the same loss.
        if not any(slides(i) for i in range(c["num_hidden_layers"])):
            causal = [(ki <= qi)[None, None] for _ in range(c["num_hidden_layers"])]
            model = Decoder(c, w, lora, gold["lora"]["scale"], 0.0, False)
            unmasked, masked = float(model.loss(ids, labels)), float(model.loss(ids, labels, causal))
            error = abs(unmasked - masked) / abs(masked)
            ok = ok and error <= LOSS_BOUND
            print(f"{name}: the timed path's attention (no mask{', enable_gqa' if SDPA_GQA else ''}) against the masked one: relative error {error:.1e}")
    print(f"{'PASS' if ok else 'FAIL'}: losses within {LOSS_BOUND:g} and gradients within {GRAD_BOUND:.2e} (float32 rounding) of the goldens")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", choices=sorted(CONFIGS))
    ap.add_argument("--check", action="store_true", help="compare the model with the fixtures' goldens (float64, CPU) and exit")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-alpha", type=float, default=32)
    ap.add_argument("--lora-dropout", type=float, default=0.05)
    ap.add_argument("--no-checkpointing", action="store_true", help="keep every layer's activations (webtune: --gradient-checkpointing false)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the result to this file")
    a = ap.parse_args()
    if a.check:
        sys.exit(check())
    if a.model is None:
        ap.error("give a model shape, or --check")
    for flag in ("batch_size", "max_length", "lora_r", "warmup", "steps"):
        if getattr(a, flag) < 1:
            ap.error(f"--{flag.replace('_', '-')} must be at least 1 (got {getattr(a, flag)})")
    result = time_steps(a)
    print(json.dumps(result, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
