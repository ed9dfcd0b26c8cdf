#!/usr/bin/python3
"""Step 5: prove the lesson. An independent PyTorch reimplementation of what webtune does (TRL semantics):
LoRA SFT on sft.jsonl, merge, then LoRA DPO on dpo.jsonl with the SFT-merged model as policy start and
reference; greedy generations on the held-out eval prompts scored with checks.json, and the held-out DPO reward
accuracy on eval-pairs.jsonl.

    /usr/bin/python3 scripts/demo/lesson.py                      # the recommended recipe; writes .build/lesson/*.json
    /usr/bin/python3 scripts/demo/lesson.py --sft-lr 5e-4 ...    # any hyper-parameter (see --help)
    /usr/bin/python3 scripts/demo/lesson.py --sweep              # the robustness sweep reported in README.md
    /usr/bin/python3 scripts/demo/lesson.py --preset quick       # a preset of lesson.json (its steps, rates, prompts)
    /usr/bin/python3 scripts/demo/lesson.py --rescore            # the fixture's answers scored again by checks.json

TRL semantics reproduced: prompt and completion tokenised separately without special tokens, EOS appended to the
completion (SFT) and to chosen and rejected (DPO); SFT loss = token-weighted mean NLL over completion tokens (EOS
included); DPO logp = sum of completion-token log-probs, sigmoid loss -logsigmoid(beta*((pc-rc)-(pr-rr))),
rewards = beta*(policy - reference), accuracy = mean(reward_chosen > reward_rejected); AdamW (0.9, 0.999, 1e-8),
weight decay 0, linear LR decay to 0 after warmup, grad-norm clipping at 1.0; LoRA y = Wx + (alpha/r) B A x with
A Kaiming-uniform, B zero, dropout 0.
"""
import argparse
import json
import os
import re
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F

from common import BUILD, DATA_DIR, DEMO_DIR, MODEL_DIR, ROOT, Tokenizer, generate, load_model, read_jsonl


def read_lesson():
    with open(os.path.join(DEMO_DIR, "lesson.json")) as f:
        return json.load(f)


def load_recipe(preset=None):
    """The recipe webtune runs (apps/studio/public/demo/lesson.json, TRL's names), in this script's own layout; with
    a preset, its stage settings over the whole recipe's, as webtune applies them."""
    lesson = read_lesson()
    sft, dpo = (dict(lesson["stages"][m]["config"]) for m in ("sft", "dpo"))
    if preset:
        for config, m in ((sft, "sft"), (dpo, "dpo")):
            config.update(lesson["presets"][preset]["stages"].get(m, {}))
    stage_keys = ("learning_rate", "num_train_epochs", "max_steps", "warmup_steps", "lr_scheduler_type")
    lora = lambda c: {k: c["peft_config"][k] for k in ("r", "lora_alpha", "lora_dropout", "target_modules")}
    for c in (sft, dpo):  # what this script implements; anything else in lesson.json must be the default
        assert c["gradient_accumulation_steps"] == 1 and not c["peft_config"]["use_rslora"], c
        assert (c["max_length"], c["seed"], c["weight_decay"], c["max_grad_norm"]) == (sft["max_length"], sft["seed"], sft["weight_decay"], sft["max_grad_norm"])
    assert dpo["loss_type"] == "sigmoid" and dpo["label_smoothing"] == 0, dpo
    recipe = {
        "sft": {**{k: sft[k] for k in stage_keys}, "batch_size": sft["per_device_train_batch_size"]},
        "dpo": {**{k: dpo[k] for k in stage_keys}, "batch_size": dpo["per_device_train_batch_size"], "beta": dpo["beta"], "loss_type": "sigmoid"},
        "lora": lora(sft),
        "max_grad_norm": sft["max_grad_norm"],
        "weight_decay": sft["weight_decay"],
        "max_length": sft["max_length"],
        "seed": sft["seed"],
    }
    if lora(dpo) != recipe["lora"]:
        recipe["dpo_lora"] = lora(dpo)
    return recipe


RECIPE = load_recipe()
FIXTURE = os.path.join(ROOT, "packages", "trainer", "test", "fixtures", "demo-lesson.json")


# ---------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------


def seq(tok, prompt, completion, max_length):
    p = tok.encode(prompt)
    c = tok.encode(completion) + [tok.eos_id]
    ids = (p + c)[:max_length]
    return ids, len(p)


def pad_batch(tok, seqs):
    """seqs: list of (ids, completion_start) -> ids [B, T], attention mask, completion mask (labels at t)."""
    T = max(len(s) for s, _ in seqs)
    ids = torch.full((len(seqs), T), tok.pad_id, dtype=torch.long)
    am = torch.zeros(len(seqs), T)
    cm = torch.zeros(len(seqs), T)
    for i, (s, start) in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        am[i, : len(s)] = 1
        cm[i, start : len(s)] = 1
    return ids, am, cm


def token_logps(model, ids, am, cm):
    """Per-sequence sum of completion-token log-probs, and the count of completion tokens."""
    logits = model(ids, am)[:, :-1]
    lp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
    m = cm[:, 1:]
    return (lp * m).sum(1), m.sum(1)


# ---------------------------------------------------------------------------------------------------------
# LoRA
# ---------------------------------------------------------------------------------------------------------


def add_lora(model, lora, seed):
    for p in model.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(seed)
    params = []
    for _, short, lin in model.linears():
        if short in lora["target_modules"]:
            lin.add_lora(lora["r"], lora["lora_alpha"], g)
            params += [lin.A, lin.B]
    return params


def merge_lora(model):
    for _, _, lin in model.linears():
        lin.merge()


def optimiser(params, cfg, total_steps):
    opt = torch.optim.AdamW(params, lr=cfg["learning_rate"], betas=(0.9, 0.999), eps=1e-8, weight_decay=RECIPE["weight_decay"])
    warm = cfg["warmup_steps"]

    def lr_lambda(step):  # transformers' get_linear_schedule_with_warmup / constant
        if step < warm:
            return (step + 1) / warm
        if cfg["lr_scheduler_type"] == "constant":
            return 1.0
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)


def batches(n, cfg, seed):
    """The micro-batches of a stage: its epochs of seeded shuffles, or, when max_steps > 0, as many as TRL takes
    (max_steps wins over num_train_epochs; the learning-rate schedule then spans max_steps)."""
    bs, limit = cfg["batch_size"], cfg.get("max_steps", -1)
    g = torch.Generator().manual_seed(seed)
    out = []
    while len(out) < (limit if limit > 0 else cfg["num_train_epochs"] * -(-n // bs)):
        perm = torch.randperm(n, generator=g).tolist()
        out += [perm[i : i + bs] for i in range(0, n, bs)]
    return out[:limit] if limit > 0 else out


# ---------------------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------------------


def train_sft(model, tok, rows, cfg, lora, seed, log):
    data = [seq(tok, r["prompt"], r["completion"], RECIPE["max_length"]) for r in rows]
    params = add_lora(model, lora, seed)
    plan = batches(len(data), cfg, seed + 1)
    opt, sched = optimiser(params, cfg, len(plan))
    for step, idx in enumerate(plan, 1):
        ids, am, cm = pad_batch(tok, [data[i] for i in idx])
        s, n = token_logps(model, ids, am, cm)
        loss = -s.sum() / n.sum()
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, RECIPE["max_grad_norm"]).item()
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        if step % 10 == 0 or step == len(plan) or step == 1:
            log.append({"stage": "sft", "step": step, "loss": round(loss.item(), 4), "grad_norm": round(gn, 4), "learning_rate": lr,
                        "epoch": round(step / len(plan) * cfg["num_train_epochs"], 3)})
    merge_lora(model)
    return len(plan)


@torch.no_grad()
def pair_logps(model, tok, rows, bs=16):
    pc, pr = [], []
    for i in range(0, len(rows), bs):
        chunk = rows[i : i + bs]
        seqs = [seq(tok, r["prompt"], r["chosen"], RECIPE["max_length"]) for r in chunk]
        seqs += [seq(tok, r["prompt"], r["rejected"], RECIPE["max_length"]) for r in chunk]
        s, _ = token_logps(model, *pad_batch(tok, seqs))
        pc.append(s[: len(chunk)])
        pr.append(s[len(chunk) :])
    return torch.cat(pc), torch.cat(pr)


def train_dpo(model, tok, rows, cfg, lora, seed, log):
    beta = cfg["beta"]
    ref_c, ref_r = pair_logps(model, tok, rows)  # reference = the model the policy starts from (adapter off)
    data = [(seq(tok, r["prompt"], r["chosen"], RECIPE["max_length"]), seq(tok, r["prompt"], r["rejected"], RECIPE["max_length"])) for r in rows]
    params = add_lora(model, lora, seed + 2)
    plan = batches(len(data), cfg, seed + 3)
    opt, sched = optimiser(params, cfg, len(plan))
    for step, idx in enumerate(plan, 1):
        ids, am, cm = pad_batch(tok, [data[i][0] for i in idx] + [data[i][1] for i in idx])
        s, _ = token_logps(model, ids, am, cm)
        pc, pr = s[: len(idx)], s[len(idx) :]
        rc, rr = ref_c[idx], ref_r[idx]
        z = beta * ((pc - rc) - (pr - rr))
        loss = -F.logsigmoid(z).mean()
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, RECIPE["max_grad_norm"]).item()
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        if step % 5 == 0 or step == len(plan) or step == 1:
            ch, rj = beta * (pc - rc).detach(), beta * (pr - rr).detach()
            log.append({"stage": "dpo", "step": step, "loss": round(loss.item(), 4), "grad_norm": round(gn, 4), "learning_rate": lr,
                        "rewards/chosen": round(ch.mean().item(), 4), "rewards/rejected": round(rj.mean().item(), 4),
                        "rewards/accuracies": round((ch > rj).float().mean().item(), 4),
                        "rewards/margins": round((ch - rj).mean().item(), 4)})
    return len(plan)


def reward_accuracy(model, ref, tok, pairs, beta):
    pc, pr = pair_logps(model, tok, pairs)
    rc, rr = ref
    ch, rj = beta * (pc - rc), beta * (pr - rr)
    return {"accuracy": round((ch > rj).float().mean().item(), 4), "ties": int((ch == rj).sum()),
            "margin": round((ch - rj).mean().item(), 4), "rewards_chosen": round(ch.mean().item(), 4)}


def score(outputs, checks, facts):
    res = {}
    for c in checks["checks"]:
        rx = re.compile(c["regex"])
        res[c["id"]] = sum(bool(rx.search(o.strip())) for o in outputs) / len(outputs)
    res["facts"] = sum(bool(re.compile(f["regex"]).search(o.strip())) for o, f in zip(outputs, facts)) / len(outputs)
    return {k: round(v, 4) for k, v in res.items()}


_SFT_CACHE = {}


def run(recipe, quiet=False, generate_base=True, model_dir=MODEL_DIR, n_prompts=None):
    t0 = time.time()
    torch.manual_seed(recipe["seed"])
    tok = Tokenizer.load(model_dir)
    model = load_model(model_dir)
    sft_rows = read_jsonl(os.path.join(DATA_DIR, "sft.jsonl"))
    dpo_rows = read_jsonl(os.path.join(DATA_DIR, "dpo.jsonl"))
    prompts = [r["prompt"] for r in read_jsonl(os.path.join(DATA_DIR, "eval-prompts.jsonl"))]
    pairs = read_jsonl(os.path.join(DATA_DIR, "eval-pairs.jsonl"))
    with open(os.path.join(DEMO_DIR, "checks.json")) as f:
        checks = json.load(f)
    facts = checks["facts"]["items"]
    assert [f["prompt"] for f in facts] == prompts
    prompts, facts, pairs = prompts[:n_prompts], facts[:n_prompts], pairs[:n_prompts]  # the first n (None: all)
    beta = recipe["dpo"]["beta"]
    out = {"recipe": recipe, "log": [], "outputs": {}}

    def say(*a):
        if not quiet:
            print(*a, flush=True)

    if generate_base:
        gens = generate(model, tok, prompts, 48)
        out["outputs"]["base"] = gens
        out["base"] = score(gens, checks, facts)
        say("base", out["base"], repr(gens[0]))
    key = json.dumps([model_dir, recipe["sft"], recipe["lora"], recipe["seed"], recipe["max_length"]], sort_keys=True)
    if key in _SFT_CACHE:  # the sweep reuses an SFT stage it has already trained
        state, out["sft_steps"], sft_log, gens = _SFT_CACHE[key]
        model.load_state_dict(state)
        out["log"] += sft_log
    else:
        out["sft_steps"] = train_sft(model, tok, sft_rows, recipe["sft"], recipe["lora"], recipe["seed"], out["log"])
        gens = generate(model, tok, prompts, 48)
        _SFT_CACHE[key] = ({k: v.clone() for k, v in model.state_dict().items()}, out["sft_steps"], list(out["log"]), gens)
    out["outputs"]["sft"] = gens
    out["sft"] = score(gens, checks, facts)
    ref_eval = pair_logps(model, tok, pairs)
    out["sft"]["reward_accuracy"] = reward_accuracy(model, ref_eval, tok, pairs, beta)  # policy = reference: all ties
    say("sft", out["sft"], repr(gens[0]), f"{time.time() - t0:.0f}s")
    out["dpo_steps"] = train_dpo(model, tok, dpo_rows, recipe["dpo"], recipe.get("dpo_lora", recipe["lora"]), recipe["seed"], out["log"])
    gens = generate(model, tok, prompts, 48)
    out["outputs"]["dpo"] = gens
    out["dpo"] = score(gens, checks, facts)
    out["dpo"]["reward_accuracy"] = reward_accuracy(model, ref_eval, tok, pairs, beta)
    out["dpo"]["train_reward_accuracy_last"] = [l for l in out["log"] if l["stage"] == "dpo"][-1]["rewards/accuracies"]
    out["seconds"] = round(time.time() - t0, 1)
    say("dpo", out["dpo"], repr(gens[0]), f"{out['seconds']:.0f}s")
    return out


def variant(**kw):
    r = json.loads(json.dumps(RECIPE))
    for k, v in kw.items():
        stage, key = k.split("__")
        if stage == "dpo_lora" and "dpo_lora" not in r:
            r["dpo_lora"] = dict(r["lora"])
        (r if stage == "top" else r[stage])[key] = v
    return r


SWEEP = {
    "recipe": {},
    "seed 1": {"top__seed": 1},
    "seed 2": {"top__seed": 2},
    "sft lr x0.5": {"sft__learning_rate": 5e-4},
    "sft lr x2": {"sft__learning_rate": 2e-3},
    "sft 2 epochs": {"sft__num_train_epochs": 2},
    "dpo lr 5e-4": {"dpo__learning_rate": 5e-4},
    "dpo lr 7e-5": {"dpo__learning_rate": 7e-5},
    "dpo lr 1e-4": {"dpo__learning_rate": 1e-4},
    "dpo lr 2e-4": {"dpo__learning_rate": 2e-4},
    "dpo lr 3e-4": {"dpo__learning_rate": 3e-4},
    "dpo lr 5e-5": {"dpo__learning_rate": 5e-5},
    "dpo lr 2e-5": {"dpo__learning_rate": 2e-5},
    "dpo lr 1e-5": {"dpo__learning_rate": 1e-5},
    "dpo attn only": {"dpo_lora__target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
    "dpo q,v only": {"dpo_lora__target_modules": ["q_proj", "v_proj"]},
    "dpo mlp only": {"dpo_lora__target_modules": ["gate_proj", "up_proj", "down_proj"]},
    "dpo r 2": {"dpo_lora__r": 2, "dpo_lora__lora_alpha": 4},
    "dpo 2 epochs": {"dpo__num_train_epochs": 2},
    "dpo beta 0.05": {"dpo__beta": 0.05},
    "dpo beta 0.5": {"dpo__beta": 0.5},
    "r 4 alpha 8": {"lora__r": 4, "lora__lora_alpha": 8},
    "r 16 alpha 32": {"lora__r": 16, "lora__lora_alpha": 32},
    "q,v only": {"lora__target_modules": ["q_proj", "v_proj"]},
    "batch 4": {"sft__batch_size": 4, "dpo__batch_size": 4},
    "batch 16": {"sft__batch_size": 16, "dpo__batch_size": 16},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--only", nargs="*", help="sweep entries to run")
    ap.add_argument("--threads", type=int, default=2)
    for stage in ("sft", "dpo"):
        for k, v in RECIPE[stage].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ap.add_argument(f"--{stage}-{k.replace('_', '-')}", type=type(v))
    ap.add_argument("--lora-r", type=int)
    ap.add_argument("--lora-alpha", type=float)
    ap.add_argument("--target-modules")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--model", default=MODEL_DIR, help="model folder (default: the demo model)")
    ap.add_argument("--preset", help="a preset of lesson.json (e.g. quick): its stage settings and held-out prompts")
    ap.add_argument("--out")
    ap.add_argument("--rescore", action="store_true", help="score the fixture's stored answers again with checks.json as it is now (no training)")
    a = ap.parse_args()
    a.out = a.out or os.path.join(BUILD, "lesson", f"{a.preset or 'recipe'}.json")
    torch.set_num_threads(a.threads)
    os.makedirs(os.path.join(BUILD, "lesson"), exist_ok=True)

    if a.rescore:
        # A change to the checks (not to the model, data or recipe) changes the scores of the same greedy answers.
        with open(FIXTURE) as f:
            fixture = json.load(f)
        with open(os.path.join(DEMO_DIR, "checks.json")) as f:
            checks = json.load(f)
        assert [x["prompt"] for x in checks["facts"]["items"]] == fixture["prompts"]
        for stage, outputs in fixture["outputs"].items():
            fixture["scores"][stage].update(score(outputs, checks, checks["facts"]["items"]))
            print(stage, {k: v for k, v in fixture["scores"][stage].items() if not isinstance(v, dict)})
        with open(FIXTURE, "w") as f:
            json.dump(fixture, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("rescored", FIXTURE)
        return

    if a.sweep:
        rows = {}
        path = os.path.join(BUILD, "lesson", "sweep.json")
        if os.path.exists(path):
            with open(path) as f:
                rows = json.load(f)
        for name, kw in SWEEP.items():
            if (a.only and name not in a.only) or name in rows:
                continue
            res = run(variant(**kw), quiet=True, generate_base=False, model_dir=a.model)
            rows[name] = {"sft": res["sft"], "dpo": res["dpo"], "sft_steps": res["sft_steps"], "dpo_steps": res["dpo_steps"], "seconds": res["seconds"]}
            print(f"{name:16s} SFT format {res['sft']['format']:.2f} closing {res['sft']['closing']:.2f} facts {res['sft']['facts']:.2f} | "
                  f"DPO format {res['dpo']['format']:.2f} closing {res['dpo']['closing']:.2f} facts {res['dpo']['facts']:.2f} "
                  f"reward acc {res['dpo']['reward_accuracy']['accuracy']:.2f} | {res['seconds']:.0f}s", flush=True)
            with open(path, "w") as f:
                json.dump(rows, f, indent=1)
        return

    base = load_recipe(a.preset) if a.preset else RECIPE
    r = json.loads(json.dumps(base))
    for stage in ("sft", "dpo"):
        for k in list(r[stage]):
            v = getattr(a, f"{stage}_{k}", None)
            if v is not None:
                r[stage][k] = v
    if a.lora_r:
        r["lora"]["r"] = a.lora_r
    if a.lora_alpha:
        r["lora"]["lora_alpha"] = a.lora_alpha
    if a.target_modules:
        r["lora"]["target_modules"] = a.target_modules.split(",")
    if a.seed is not None:
        r["seed"] = a.seed
    res = run(r, model_dir=a.model, n_prompts=read_lesson()["presets"][a.preset].get("held_out_prompts") if a.preset else None)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print("written", a.out)
    if a.model == MODEL_DIR and r == RECIPE:
        # The answers and their scores, for webtune's own scorer to agree with (packages/trainer/src/lesson/).
        fixture = {"note": "written by scripts/demo/lesson.py: greedy answers of the PyTorch lesson and their scores",
                   "prompts": [x["prompt"] for x in read_jsonl(os.path.join(DATA_DIR, "eval-prompts.jsonl"))],
                   "outputs": res["outputs"], "scores": {k: res[k] for k in ("base", "sft", "dpo")}}
        with open(FIXTURE, "w") as f:
            json.dump(fixture, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("written", FIXTURE)


if __name__ == "__main__":
    main()
