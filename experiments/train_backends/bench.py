"""Training tokens/s and peak memory of the torch backend, the mlx backend and a plain
`transformers.Trainer` (full-logit loss, labels -100 on the prompt), on the same rows, model,
steps and batches.

    .venv/bin/python experiments/train_backends/bench.py [--steps 5] [--batch-size 2] [--rows 16]
        [--max-seq-len 192] [--validated outputs/runs/<run>/validate/validated]

Each contender runs in its own child process, one after the other in one invocation (so peak RSS is
its own and no import or cache is shared). Throughput is steady state: the tokens of steps 2..N over
the time between the end of step 1 and the end of step N (step 1 holds one-off warm-up work), wall
clock and CPU time both, since these machines are shared. Writes results.json (results-threadsN.json
with --threads N) beside this file and prints the markdown table that README.md carries.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from compress.infra.training.config import WeightsConfig

CONTENDERS = ("torch", "mlx", "trainer")
# Words a crude compressor may drop: enough for a deterministic, plausible compressed side.
_FILLER_WORDS = (
    "the a an of to is are be been that this which and or in it its for on with as by will can may "
    "should would also then there these those such if when any all"
)
FILLER = set(_FILLER_WORDS.split())


def squeeze(text: str) -> str:
    """A deterministic stand-in for a teacher: drop filler words, keep at most 60 % of the words."""
    words = text.split()
    kept = [w for w in words if w.lower().strip(".,;:") not in FILLER]
    return " ".join(kept[: max(1, int(len(words) * 0.6))])


def build_rows(n: int, seed: int, validated: str | None, weights: WeightsConfig) -> list[dict[str, Any]]:
    """`n` weighted rows: the train split of a validated dataset, or stdlib docstrings + `squeeze`."""
    if validated:
        from datasets import load_from_disk

        ds = load_from_disk(validated)
        return [
            {
                "original": r["original"],
                "compressed": r["compressed"],
                "weight": weights.passed if r["passed"] else weights.failed,
            }
            for r in ds
            if r["split"] == "train"
        ][:n]
    from compress.algorithms.data.corpora import iter_stdlib_nl

    rows: list[dict[str, Any]] = []
    for sample in iter_stdlib_nl(seed):
        if 20 <= len(sample["text"].split()) <= 70:
            # every other row counts as a passed pair: the weighted loss has two weights to apply
            w = weights.passed if len(rows) % 2 == 0 else weights.failed
            rows.append(
                {"original": sample["text"], "compressed": squeeze(sample["text"]), "weight": float(w)}
            )
        if len(rows) == n:
            break
    return rows


def compose_cfg(backend: str, a: argparse.Namespace) -> Any:
    """The pipeline's own config (bundled model, LoRA settings) with the benchmark's sizes."""
    from hydra import compose, initialize_config_dir

    from compress.pipeline.config_store import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(
            config_name="config",
            overrides=[
                f"backend={backend}",
                "backend.device=cpu",
                f"train.steps={a.steps}",
                f"train.batch_size={a.batch_size}",
                f"train.max_seq_len={a.max_seq_len}",
                f"seed={a.seed}",
                # mlx has no thread setting (its CPU build's BLAS runs on one thread)
                *([f"backend.threads={a.threads}"] if a.threads and backend == "torch" else []),
            ],
        )


class Clock:
    """Wall and CPU time at the end of each step."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []

    def tick(self) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))


def steady(clock: Clock, tokens: list[int]) -> dict[str, float]:
    """Tokens/s over steps 2..N, wall and CPU, and the first step's extra wall time."""
    (w1, c1), (wn, cn) = clock.marks[0], clock.marks[-1]
    n = sum(tokens[1:])
    per_step = (wn - w1) / (len(tokens) - 1)
    return {
        "tokens_per_s": n / (wn - w1),
        "tokens_per_cpu_s": n / (cn - c1),
        "s_per_step": per_step,
    }


def work_backend(name: str, a: argparse.Namespace) -> dict[str, Any]:
    """Train with a compress backend; time it through its per-step log calls."""
    from compress.algorithms.backends import get_backend
    from compress.infra.training.config import TrainConfig

    cfg = compose_cfg(name, a)
    rows = build_rows(a.rows, a.seed, a.validated, TrainConfig.of(cfg.train).weights)
    clock, losses = Clock(), []

    def log(metrics: dict[str, Any], step: int) -> None:
        clock.tick()
        losses.append(metrics["loss"])

    with tempfile.TemporaryDirectory() as tmp:
        result = get_backend(name).train(cfg, rows, Path(tmp), Path(a.cache), log)
    tokens = [h["tokens"] for h in result["history"]]
    return {
        **steady(clock, tokens),
        "tokens": tokens,
        "final_loss": losses[-1],
        "examples": result["metrics"]["examples"],
    }


def work_trainer(a: argparse.Namespace) -> dict[str, Any]:
    """`transformers.Trainer` + PEFT LoRA with the model's own loss: logits at every position."""
    import torch
    from peft import get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    from compress.algorithms.backends.common import examples_or_raise, peft_lora_config
    from compress.infra.models.bundled import LOCAL_MODELS, hf_dir
    from compress.infra.training.config import TrainConfig
    from compress.infra.training.loop import batches

    cfg = compose_cfg("torch", a)
    tcfg = TrainConfig.of(cfg.train)
    if a.threads:
        torch.set_num_threads(a.threads)
    rows = build_rows(a.rows, a.seed, a.validated, tcfg.weights)
    path = hf_dir(str(cfg.model.name), Path(a.cache))
    chat_format = LOCAL_MODELS[str(cfg.model.name)].chat_format
    tok = AutoTokenizer.from_pretrained(str(path))
    base = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    examples, _ = examples_or_raise(cfg, tok, chat_format, rows)
    # the backends' exact batches, fed in order: same tokens per step everywhere
    order = [e for b in batches(examples, a.steps, a.batch_size, a.seed) for e in b]
    data = [
        {"input_ids": e.input_ids, "labels": [-100] * e.n_prompt + e.input_ids[e.n_prompt :]} for e in order
    ]
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def collate(feats: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in feats)
        out = {
            "input_ids": torch.full((len(feats), width), pad),
            "attention_mask": torch.zeros((len(feats), width), dtype=torch.long),
            "labels": torch.full((len(feats), width), -100),
        }
        for i, f in enumerate(feats):
            n = len(f["input_ids"])
            out["input_ids"][i, :n] = torch.tensor(f["input_ids"])
            out["attention_mask"][i, :n] = 1
            out["labels"][i, :n] = torch.tensor(f["labels"])
        return out

    model = get_peft_model(base, peft_lora_config(tcfg.lora))
    clock, losses = Clock(), []

    class StepClock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            clock.tick()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    with tempfile.TemporaryDirectory() as tmp:
        targs = TrainingArguments(
            output_dir=tmp,
            per_device_train_batch_size=a.batch_size,
            max_steps=a.steps,
            learning_rate=tcfg.lr,
            lr_scheduler_type="cosine",
            warmup_steps=max(1, a.steps // 10),
            weight_decay=0.0,
            max_grad_norm=1.0,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=True,
            train_sampling_strategy="sequential",
            remove_unused_columns=False,
            dataloader_num_workers=0,
            disable_tqdm=True,
            seed=a.seed,
        )
        Trainer(
            model=model, args=targs, train_dataset=data, data_collator=collate, callbacks=[StepClock()]
        ).train()
    tokens = [
        sum(len(e.input_ids) for e in order[i * a.batch_size : (i + 1) * a.batch_size])
        for i in range(a.steps)
    ]
    return {**steady(clock, tokens), "tokens": tokens, "final_loss": losses[-1], "examples": len(examples)}


def work_gemm() -> dict[str, Any]:
    """float32 GEMM GFLOP/s of mlx's CPU build and of torch, at a Gemma 3 270M MLP shape."""
    import mlx.core as mx
    import torch

    m, k, n, reps = 512, 640, 2048, 5
    flops = 2 * m * k * n * reps
    a, b = mx.random.normal((m, k)), mx.random.normal((k, n))
    mx.eval(mx.matmul(a, b))
    t = time.perf_counter()
    for _ in range(reps):
        mx.eval(mx.matmul(a, b))
    mlx_s = time.perf_counter() - t
    ta, tb = torch.randn(m, k), torch.randn(k, n)
    ta @ tb
    t = time.perf_counter()
    for _ in range(reps):
        ta @ tb
    torch_s = time.perf_counter() - t
    return {"mlx_gflops": flops / mlx_s / 1e9, "torch_gflops": flops / torch_s / 1e9}


def worker(name: str, a: argparse.Namespace) -> None:
    """Run one contender in this process and print its figures as the last line (JSON)."""
    if name == "gemm":
        out = work_gemm()
    elif name == "trainer":
        out = work_trainer(a)
    else:
        out = work_backend(name, a)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(out))


def versions() -> dict[str, str]:
    """Versions of the libraries that decide the figures."""
    from importlib.metadata import version

    return {p: version(p) for p in ("torch", "transformers", "peft", "mlx", "mlx-lm")}


def table(results: dict[str, Any]) -> str:
    """The markdown table of README.md."""
    names = {
        "torch": "torch backend (completion-only logits)",
        "mlx": "mlx backend (mlx-lm, CPU)",
        "trainer": "`transformers.Trainer` (full logits)",
    }
    lines = [
        "| contender | tokens/s (wall) | tokens per CPU-s | s/step | peak RSS (MiB) | final loss |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in CONTENDERS:
        r = results[key]
        lines.append(
            f"| {names[key]} | {r['tokens_per_s']:.1f} | {r['tokens_per_cpu_s']:.1f} | {r['s_per_step']:.1f} | "
            f"{r['peak_rss_mib']:.0f} | {r['final_loss']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run every contender in a child process, one after the other; write results.json."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--max-seq-len", type=int, default=192)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--validated", default=None, help="a validate/validated dataset dir to take rows from")
    ap.add_argument(
        "--cache", default=os.environ.get("COMPRESS_CACHE", str(Path.home() / ".cache" / "compress"))
    )
    ap.add_argument("--only", default=",".join(CONTENDERS), help="comma-separated subset to run")
    ap.add_argument(
        "--rounds", type=int, default=1, help="interleaved repetitions; each one's best is reported"
    )
    ap.add_argument(
        "--threads", type=int, default=None, help="CPU threads for every contender (default: all cores)"
    )
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.steps < 2:
        ap.error("--steps must be at least 2 (step 1 is warm-up)")
    if a.worker:
        worker(a.worker, a)
        return
    env = dict(os.environ, HF_HUB_OFFLINE="1", COMPRESS_CACHE=a.cache)
    if a.threads:
        env |= {v: str(a.threads) for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    argv = [
        *("--steps", str(a.steps), "--batch-size", str(a.batch_size), "--rows", str(a.rows)),
        *("--max-seq-len", str(a.max_seq_len), "--seed", str(a.seed), "--cache", a.cache),
        *(("--validated", a.validated) if a.validated else ()),
        *(("--threads", str(a.threads)) if a.threads else ()),
    ]
    results: dict[str, Any] = {
        "args": {k: v for k, v in vars(a).items() if k != "worker"},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_before": os.getloadavg()},
        "versions": versions(),
    }
    rounds: dict[str, list[dict[str, Any]]] = {}
    # Interleaved rounds: on a shared machine a burst of someone else's load then hits every
    # contender alike, and the best round of each is its least disturbed one.
    for r in range(a.rounds):
        for name in ["gemm", *a.only.split(",")]:
            print(f"bench: round {r + 1}/{a.rounds}: {name} ...", file=sys.stderr, flush=True)
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, __file__, *argv, "--worker", name], env=env, capture_output=True, text=True
            )
            if proc.returncode != 0:
                sys.exit(f"bench: {name} failed:\n{proc.stderr[-4000:]}")
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            out |= {"process_s": time.perf_counter() - t, "load_after": os.getloadavg()}
            rounds.setdefault(name, []).append(out)
    for name, runs in rounds.items():
        results[name] = max(runs, key=lambda x: x["torch_gflops" if "torch_gflops" in x else "tokens_per_s"])
    results["rounds"] = rounds
    results["machine"]["load_after"] = os.getloadavg()
    name = f"results-threads{a.threads}.json" if a.threads else "results.json"
    (Path(__file__).parent / name).write_text(json.dumps(results, indent=2))
    if set(CONTENDERS) <= set(results):
        print(table(results))
    print(json.dumps({k: results[k] for k in ("gemm", "machine")}, indent=2))


if __name__ == "__main__":
    main()
