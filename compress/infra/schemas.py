"""The data crossing stage boundaries: HF `Features` for the datasets, Pydantic for records."""

from __future__ import annotations

from typing import Any

from datasets import Features, Sequence, Value
from pydantic import BaseModel, Field

SAMPLE_FEATURES = Features(
    {
        "id": Value("string"),
        "domain": Value("string"),
        "source": Value("string"),
        "split": Value("string"),
        "text": Value("string"),
    }
)

PAIR_FEATURES = Features(
    {
        "id": Value("string"),
        "domain": Value("string"),
        "source": Value("string"),
        "split": Value("string"),
        "original": Value("string"),
        "compressed": Value("string"),
        "teacher": Value("string"),
        "original_tokens": Value("int32"),
        "compressed_tokens": Value("int32"),
        "teacher_seconds": Value("float32"),
        # the teacher's labels for the classifier kind: per word of the original (runs of non-space,
        # compress.algorithms.text.words), kept or not; exact for an extractive teacher, aligned for an
        # LLM's rewrite (compress.algorithms.teachers.alignment), with the alignment's quality: the share of the
        # compressed words found in the original, and how many it invented
        "keep": Sequence(Value("bool")),
        "align_found": Value("float32"),
        "align_invented": Value("int32"),
    }
)

VALIDATED_FEATURES = Features(
    {
        **PAIR_FEATURES,
        "validator_models": Sequence(Value("string")),
        "model_scores": Sequence(Value("float32")),
        "min_score": Value("float32"),
        "fact_recall": Value("float32"),
        "model_fact_scores": Sequence(Value("float32")),
        "facts_min": Value("float32"),
        "judge_models": Sequence(Value("string")),
        "judge_scores": Sequence(Value("float32")),
        "judge_min": Value("float32"),
        "gates_failed": Sequence(Value("string")),
        "passed": Value("bool"),
        "answers_original": Sequence(Value("string")),
        "answers_compressed": Sequence(Value("string")),
        # the probe questions asked and, per probe, the part of the text it is about (-1: the whole text)
        "probes": Sequence(Value("string")),
        "probe_parts": Sequence(Value("int32")),
    }
)

TRAIN_LOG_FEATURES = Features(
    {
        "step": Value("int32"),
        "loss": Value("float32"),
        "tokens": Value("int32"),
        "seconds": Value("float32"),
    }
)

EVAL_FEATURES = Features(
    {
        "id": Value("string"),
        "method": Value("string"),
        "original": Value("string"),
        "compressed": Value("string"),
        "original_tokens": Value("int32"),
        "compressed_tokens": Value("int32"),
        "original_tokens_cl100k": Value("int32"),
        "compressed_tokens_cl100k": Value("int32"),
        "reduction": Value("float32"),
        "min_score": Value("float32"),
        "model_scores": Sequence(Value("float32")),
        "fact_recall": Value("float32"),
        "latency_s": Value("float32"),
        # the probes asked (the part of the text each is about: -1 = the whole text)
        "probes": Sequence(Value("string")),
        "probe_parts": Sequence(Value("int32")),
        # cloze blanks of this sample filled right from this method's text, over items and models
        "cloze_correct": Value("int32"),
        "cloze_asked": Value("int32"),
    }
)


class StageRecord(BaseModel):
    """What a finished stage leaves beside its outputs (`_DONE.json`)."""

    stage: str
    fingerprint: str
    inputs: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0
    finished_at: str = ""


class MethodSummary(BaseModel):
    """One compressor's figures on the held-out split."""

    method: str
    n: int
    token_reduction: float
    token_reduction_cl100k: float
    achieved_rate: float
    equivalence_min: float
    equivalence_mean: float
    pass_rate: float
    latency_p50_s: float
    latency_p95_s: float
    worst_model: str
    # preservation: share of the original's numbers, identifiers and entities kept; for code, share
    # of compressed samples that still parse (among those whose original parses), None without code
    fact_recall: float = 0.0
    code_parses: float | None = None
    # preservation by kind, pooled over samples: share of the original's numbers / identifiers / named
    # entities found verbatim in the compressed text; for code, share of the names the original
    # defines or uses (functions, classes, arguments, attributes) that survive (None without code)
    numbers_kept: float = 1.0
    identifiers_kept: float = 1.0
    entities_kept: float = 1.0
    code_names_kept: float | None = None
    # compressor seconds per 1k input tokens (sum of latencies / sum of original tokens)
    latency_per_1k_s: float = 0.0
    # the transfer row: mean equivalence under each validator model (the worst one is `worst_model`)
    model_equivalence: dict[str, float] = Field(default_factory=dict)
    # None for methods held to the trained budget; the requested rate for points of the rate sweep
    rate: float | None = None
    # cloze facts (compress.algorithms.metrics.cloze): blanks filled right from this method's text, for the worst
    # validator model (the lowest accuracy), with its Wilson 95% interval; per model; per part of the
    # text the blank lies in (first part first); None when the task is off
    cloze_n: int = 0
    cloze_accuracy: float | None = None
    cloze_ci_low: float | None = None
    cloze_ci_high: float | None = None
    model_cloze: dict[str, float] = Field(default_factory=dict)
    cloze_by_part: list[float | None] = Field(default_factory=list)


class BreakEven(BaseModel):
    """When the trained compressor pays for itself against the target model's prefill time and price.

    Compressor time is fitted as fixed_s + s_per_token × input tokens on the held-out samples; the
    target saves reduction × input tokens of prefill (at `prefill_tokens_per_s`, an assumption from
    the config) and of input price. None = it never breaks even at this reduction and speed.
    """

    target_model: str
    prefill_tokens_per_s: float
    usd_per_mtok_input: float
    compressor_usd_per_hour: float
    reduction: float
    compressor_fixed_s: float
    compressor_s_per_1k: float
    target_s_saved_per_1k: float
    break_even_tokens_time: float | None
    usd_saved_per_1k: float
    break_even_tokens_money: float | None


class TaskResult(BaseModel):
    """Accuracy on a gold-answer task with the original vs a compressed context, per answering model."""

    task: str
    method: str
    model: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float
    # paired difference to the same model on the original context, with a bootstrap 95% CI
    delta: float = 0.0
    delta_ci_low: float = 0.0
    delta_ci_high: float = 0.0
    token_reduction: float = 0.0
    # the requested rate every method was held to (evaluate.task_rates); None: the trained compressor
    # at its own budget (a kind that writes its own length), the baselines matched to it item by item
    rate: float | None = None
    # needle: accuracy by where the answer-bearing text sits among the context's texts (first first;
    # None where no question put it there); empty for the other tasks
    by_position: list[float | None] = Field(default_factory=list)


class Comparison(BaseModel):
    """A method against a baseline on the same items: the paired difference with its 95% bootstrap
    interval, and the smallest difference this many items could detect (80% power, two-sided 5%)."""

    method: str
    baseline: str
    # None: both at the trained compressor's budget sample by sample; else both at this requested rate
    rate: float | None = None
    # "cloze" (per blank), "equivalence" (per sample, min over validator models) or "task:<task>"
    # (a gold-answer task: per question, right or wrong)
    metric: str
    model: str  # the validator (or answering) model, or "min" for equivalence_min
    n: int
    method_mean: float
    baseline_mean: float
    diff: float
    ci_low: float
    ci_high: float
    mde: float


class JudgeBias(BaseModel):
    """Does a validator favour the head of a text? Equivalence of `truncate` (keeps the head) against
    `tail` (keeps the end) at the same budget, with probes spread evenly over the text."""

    model: str
    n: int
    truncate: float
    tail: float
    diff: float
    ci_low: float
    ci_high: float
    biased: bool
    statement: str


class EvalSummary(BaseModel):
    """The evaluate stage's summary: every compressor at the trained compressor's budget."""

    tokenizer: str
    tokenizer_secondary: str
    validator_models: list[str]
    threshold: float
    methods: list[MethodSummary]
    # the rate sweep: baselines at each requested rate, plus the trained and teacher points
    curves: list[MethodSummary] = Field(default_factory=list)
    break_even: BreakEven | None = None
    tasks: list[TaskResult] = Field(default_factory=list)
    # the headline: each compressor against each baseline on the same items (compress.algorithms.metrics.compare),
    # on the held-out samples and on the gold-answer tasks
    headline: list[Comparison] = Field(default_factory=list)
    judge_bias: list[JudgeBias] = Field(default_factory=list)
