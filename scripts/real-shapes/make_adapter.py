#!/usr/bin/python3
"""A random rank-8 PEFT LoRA adapter on every projection of a (real-shape) checkpoint, to export it merged.

    /usr/bin/python3 scripts/real-shapes/make_adapter.py /tmp/qwen3-0.6b /tmp/qwen3-0.6b-adapter

Keys and config as PEFT writes them (DESIGN.md, "Adapters out"): base_model.model.<module>.lora_A.weight [r, in] and
lora_B.weight [out, r], float32; B is random too (a fresh adapter's B is zero, which would merge to nothing).
Needs Debian's python3-torch.
"""
import json
import os
import struct
import sys

import torch

R, ALPHA = 8, 16


def main():
    model, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(model, "config.json")) as f:
        c = json.load(f)
    h, hd, inter = c["hidden_size"], c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"], c["intermediate_size"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    shapes = {"q_proj": (q, h), "k_proj": (kv, h), "v_proj": (kv, h), "o_proj": (h, q),
              "gate_proj": (inter, h), "up_proj": (inter, h), "down_proj": (h, inter)}
    gen = torch.Generator().manual_seed(1)
    tensors = {}
    for layer in range(c["num_hidden_layers"]):
        for name, (o, i) in shapes.items():
            part = "self_attn" if name in ("q_proj", "k_proj", "v_proj", "o_proj") else "mlp"
            key = f"base_model.model.model.layers.{layer}.{part}.{name}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(R, i, generator=gen) * 0.01
            tensors[f"{key}.lora_B.weight"] = torch.randn(o, R, generator=gen) * 0.01
    header, offset = {}, 0
    for k, t in tensors.items():
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + 4 * t.numel()]}
        offset += 4 * t.numel()
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "adapter_model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for t in tensors.values():
            f.write(t.numpy().astype("<f4").tobytes())
    config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": R, "lora_alpha": ALPHA, "lora_dropout": 0.0,
              "target_modules": list(shapes), "bias": "none", "use_rslora": False,
              "base_model_name_or_path": os.path.basename(os.path.normpath(model))}
    with open(os.path.join(out, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
