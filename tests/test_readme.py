"""Every command the README shows is run by a test as written, in a clean copy of the repository and
from its root, the working dir a new user has: a README that lies fails here.

`readme_commands()` reads every ```bash block of README.md (continuation lines joined, trailing
comments dropped). Each command is a `Case` below, keyed by its exact text: what fills its
placeholders (`<run>`: a finished smoke run of the copy; `DIR`: a run or package dir; files such as
`notes.txt`, written into the copy), what it may append to be the cheapest run that exercises it
(said in `why`), the exit status it must end with and what must then exist. A command no machine
here can run (a cluster, an online account, the network) is in `NOT_RUN` with the reason; a test
fails on a README command in neither, so a new command comes with its test.

The cheap ones run in the default suite; the ones that run pipelines are `slow` (`pytest -m slow`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.clean_copy import clean_copy, run_in, user_env

README = ROOT / "README.md"


def readme_commands(text: str | None = None) -> list[str]:
    """The README's shell commands: each line of its ```bash blocks, continuations joined, comments dropped."""
    text = README.read_text() if text is None else text
    out: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = _strip_comment(line).strip()
            if command:
                out.append(" ".join(command.split()))
    return out


def _strip_comment(line: str) -> str:
    """The line without a trailing `# comment` (a `#` outside quotes, after white space or at the start)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


@dataclass(frozen=True)
class Case:
    """How one README command is run: the files written into the copy first, what fills each
    placeholder (the README's text -> a function of the copy), what is appended (said in `why`),
    what must happen before (`before`: start the README's server), the exit status it must end with
    and what must hold after (`check`, given the copy and the finished process)."""

    why: str = ""
    files: dict[str, str] = field(default_factory=dict)
    places: dict[str, Callable[[Repo], str]] = field(default_factory=dict)
    append: str = ""
    before: Callable[[Repo], None] | None = None
    # what is typed instead, once `before` ran the command itself (in the background: a server)
    instead: str | None = None
    status: int = 0
    check: Callable[[Repo, subprocess.CompletedProcess[str]], None] = lambda repo, proc: None
    slow: bool = True
    timeout: float = 1800

    def typed(self, repo: Repo, command: str) -> str:
        """What is typed for `command` in `repo` (its files written, its placeholders filled)."""
        for name, text in self.files.items():
            repo.write(name, text)
        if self.before is not None:
            self.before(repo)
        if self.instead is not None:
            return self.instead
        for placeholder, value in self.places.items():
            command = command.replace(placeholder, value(repo))
        return command + self.append


@dataclass
class Repo:
    """A clean copy of the checkout, and what earlier commands made in it (run dirs, sweeps)."""

    root: Path
    made: dict[str, str] = field(default_factory=dict)

    def run(self, command: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        """`command` typed at a prompt in the copy's root (W&B offline, as the README's default)."""
        return run_in(self.root, command, timeout)

    def newest(self, under: str) -> str:
        """The newest dir under outputs/`under`, relative to the copy's root."""
        dirs = sorted(p for p in (self.root / "outputs" / under).iterdir() if p.is_dir())
        assert dirs, f"nothing under outputs/{under}"
        return str(dirs[-1].relative_to(self.root))

    def smoke_run(self, compressor: str | None = None) -> str:
        """A finished smoke run of the copy (made once per compressor kind), relative to its root."""
        key = f"smoke:{compressor}"
        if key not in self.made:
            extra = f" compressor={compressor}" if compressor else ""
            proc = self.run(f"python -m compress.run +experiment=smoke{extra}")
            assert proc.returncode == 0, proc.stderr[-3000:]
            self.made[key] = self.newest("runs")
        return self.made[key]

    def sweep(self) -> str:
        """A finished two-job sweep of the copy, relative to its root."""
        if "sweep" not in self.made:
            proc = self.run("python -m compress.run -m +experiment=smoke train.lora.rank=4,8")
            assert proc.returncode == 0, proc.stderr[-3000:]
            self.made["sweep"] = self.newest("multiruns")
        return self.made["sweep"]

    def write(self, name: str, text: str) -> None:
        """A file the README's command reads, in the copy."""
        (self.root / name).write_text(text)


NOTES = (
    "Meeting notes, 3 March. The release of version 2.4 moves to Friday because the migration script "
    "failed on the staging database. Ana owns the fix; Ben reviews it by Thursday noon. The new cache "
    "cut p95 latency from 840 ms to 310 ms in the load test. We agreed to keep the old endpoint for two "
    "more weeks. Open question: who tells the support team about the delay? Next meeting: 10 March.\n"
)
CODE = 'def retry(fn, times=3):\n    """Call fn until it succeeds, at most `times` times."""\n    for i in range(times):\n        try:\n            return fn()\n        except OSError:\n            if i == times - 1:\n                raise\n'
DOCS = {
    "a.md": "# Install\n\nRun `pip install compress` in a fresh virtualenv. Python 3.11 or newer is needed.\n",
    "b.md": "# Usage\n\nLoad a compressor with load_compressor and call compress on your text.\n",
    "c.md": "# License\n\nApache-2.0. Contributions are welcome through pull requests.\n",
}


CORPUS = "".join(
    json.dumps({"text": f"Ana: I moved the standup to {9 + i % 3}:30 because the {w} team joins now. "
                f"Ben: Fine, I will tell {w} about room {100 + i}, and bring the notes from week {i}."}) + "\n"
    for i, w in enumerate(["infra", "search", "billing", "mobile", "data", "web", "api", "ml"] * 3)
)  # fmt: skip


def _finished_run(repo: Repo, proc: subprocess.CompletedProcess[str]) -> None:
    run = repo.root / repo.newest("runs")
    assert (run / "evaluate" / "summary.json").is_file() and (run / "train" / "_DONE.json").is_file()


def _resumed(repo: Repo, proc: subprocess.CompletedProcess[str]) -> None:
    """The new run evaluated afresh on what it read from the run it resumes (no stage redone)."""
    run = repo.root / repo.newest("runs")
    status = json.loads((run / "job_status.json").read_text())
    assert status["status"] == "completed" and (run / "evaluate" / "summary.json").is_file(), status
    assert {s: v["outcome"] for s, v in status["stages"].items() if s != "evaluate"} == {
        "generate": "read",
        "train": "read",
    }, status["stages"]


def _finished_sweep(repo: Repo, proc: subprocess.CompletedProcess[str]) -> None:
    sweep = repo.root / repo.newest("multiruns")
    summary = json.loads((sweep / "sweep_summary.json").read_text())
    assert [j["status"] for j in summary["jobs"]] == ["completed", "completed"], summary
    assert (sweep / "report" / "report.md").is_file()


def _stdout_json(repo: Repo, proc: subprocess.CompletedProcess[str]) -> None:
    result = json.loads(proc.stdout)
    assert result["status"] == "compressed", result
    assert result["tokens_after"] <= 200 < result["tokens_before"], result


SERVE = "python -m compress.serve outputs/runs/<run> --port 8080"


def _serve(repo: Repo) -> None:
    """The README's server started once, in the background as typed; back when it answers."""
    if "server" in repo.made:
        return
    run = repo.smoke_run()
    server = subprocess.Popen(
        ["bash", "-c", SERVE.replace("outputs/runs/<run>", run)],
        cwd=repo.root,
        env=user_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    repo.made["server"] = str(server.pid)
    for _ in range(120):
        ping = repo.run("curl -s -o /dev/null -w '%{http_code}' localhost:8080/healthz", timeout=10)
        if ping.stdout.strip() == "200":
            return
        time.sleep(1)
    raise AssertionError("the server did not answer /healthz in 120 s")


def _curl(expected: str, within_s: float = 0.0) -> Case:
    """A curl line of the README, asked of the README's server (started first when it is not); with
    `within_s`, asked again each second until its answer says `expected` (a server still loading)."""

    def check(repo: Repo, proc: subprocess.CompletedProcess[str]) -> None:
        deadline = time.monotonic() + within_s
        while expected not in proc.stdout and time.monotonic() < deadline:
            time.sleep(1)
            proc = repo.run(str(proc.args[-1]), timeout=10)
        assert expected in proc.stdout, proc.stdout
        alive = repo.run("curl -s -o /dev/null -w '%{http_code}' localhost:8080/healthz", timeout=10)
        assert alive.stdout.strip() == "200", "the server stopped serving"

    return Case(before=_serve, check=check)


def _says(text: str, where: str = "stdout") -> Callable[[Repo, subprocess.CompletedProcess[str]], None]:
    """A check: `text` is in what the command printed (`where`: stdout, stderr or both)."""

    def check(repo: Repo, proc: subprocess.CompletedProcess[str]) -> None:
        said = {"stdout": proc.stdout, "stderr": proc.stderr}.get(where, proc.stdout + proc.stderr)
        assert text in said, f"{text!r} not in its {where}:\n{said[-3000:]}"

    return check


def _shorter(source: str) -> Callable[[Repo, subprocess.CompletedProcess[str]], None]:
    """A check: the command printed a text of `source`'s words, fewer of them, in order."""

    def check(repo: Repo, proc: subprocess.CompletedProcess[str]) -> None:
        words, pool = proc.stdout.split(), iter(source.split())
        assert 0 < len(words) < len(source.split()), proc.stdout + proc.stderr[-2000:]
        assert all(w in pool for w in words), proc.stdout

    return check


def _optuna_results(repo: Repo, proc: subprocess.CompletedProcess[str]) -> None:
    assert (repo.root / repo.newest("multiruns") / "optimization_results.yaml").is_file(), proc.stderr[-2000:]


RUN = {"outputs/runs/<run>": lambda repo: repo.smoke_run()}


CASES: dict[str, Case] = {
    "bash scripts/setup.sh && .venv/bin/python -m compress.run": Case(
        why="the main job, as the README opens with it (setup finds .venv up to date)",
        check=_finished_run,
        timeout=3600,
    ),
    "python -m compress.run +experiment=smoke": Case(check=_finished_run),
    "python -m compress.run +experiment=code_q8b": Case(
        why="it runs where its GPU and keys are; here preflight must stop it, naming them",
        status=2,
        check=_says("nothing was spent", "stderr"),
        slow=False,
        timeout=300,
    ),
    "python -m compress.run -m +experiment=smoke train.lora.rank=4,8": Case(check=_finished_sweep),
    "python -m compress.run +experiment=smoke stages=[evaluate] resume_from=outputs/runs/<run>": Case(
        places=RUN, check=_resumed
    ),
    "python -m compress.run data=file data.path=my_corpus.jsonl domain=memory": Case(
        why="on the smoke preset's scale (the data and domain as written)",
        files={"my_corpus.jsonl": CORPUS},
        append=" +experiment=smoke",
        check=_finished_run,
    ),
    "python -m compress.run --cfg job +experiment=code_q8b": Case(
        check=_says("name: code_q8b"), slow=False, timeout=300
    ),
    "python -m compress.report outputs/multiruns/<sweep> outputs/runs/<run>": Case(
        places={"outputs/multiruns/<sweep>": lambda repo: repo.sweep(), **RUN},
        check=_says("report.md", "both"),
    ),
    "compress text DIR notes.txt --rate 0.5": Case(
        files={"notes.txt": NOTES},
        places={"DIR": lambda repo: repo.smoke_run("selector")},
        check=_shorter(NOTES),
    ),
    "cat notes.txt | compress text truncate - --target-tokens 200 --json": Case(
        files={"notes.txt": NOTES * 4}, check=_stdout_json, slow=False, timeout=300
    ),
    'compress text DIR prompt.txt --query "what changed?" --domain code --engine transformers': Case(
        why="DIR: a generative run, the kind with engines",
        files={"prompt.txt": CODE * 3},
        places={"DIR": lambda repo: repo.smoke_run()},
    ),
    'compress text DIR a.md b.md c.md --rate 0.25 --query "how is it installed?" --joint': Case(
        why="DIR: a selector run (one budget over several texts needs a unit selector)",
        files=DOCS,
        places={"DIR": lambda repo: repo.smoke_run("selector")},
        check=_says("pip install"),
    ),
    "python -m compress.run -m hparams_search=lora_optuna +experiment=smoke": Case(
        why="2 trials (the preset's 20 are 20 smoke pipelines); the search, its study and its results as written",
        append=" hydra.sweeper.n_trials=2",
        check=_optuna_results,
    ),
    "python -m compress.run -m hydra/launcher=joblib hydra.launcher.n_jobs=2 +experiment=smoke train.lora.rank=4,8": Case(
        check=_finished_sweep
    ),
    "python -m compress.run -m hydra/launcher=submitit_local +experiment=smoke train.lora.rank=4,8": Case(
        check=_finished_sweep
    ),
    "python -m compress.run -m hydra/launcher=ray +experiment=smoke train.lora.rank=4,8": Case(
        check=_finished_sweep
    ),
    "python -m compress.run +experiment=smoke compressor=classifier": Case(check=_finished_run),
    "python -m compress.run +experiment=smoke compressor=selector": Case(check=_finished_run),
    "python -m compress.run +experiment=smoke 'evaluate.tasks=[cloze,humaneval,qa]' evaluate.allow_code_execution=true evaluate.humaneval.max_items=20 evaluate.qa.path=tests/fixtures/qa_small.jsonl": Case(
        check=_finished_run
    ),
    ".venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy compress tests": Case(),
    SERVE: Case(
        why="started in the background (it serves until stopped); the curl lines below ask it",
        before=_serve,
        instead="curl -s localhost:8080/healthz",
        check=_says("ok"),
    ),
    # the README: 503 "loading", then 200 "ready"
    "curl -s localhost:8080/readyz": _curl('"status":"ready"', within_s=300),
    """curl -s localhost:8080/v1/compress -d '{"text": "...", "rate": 0.5}'""": _curl('"status"'),
    # the README's [...] is a placeholder: the server must answer 4xx with a reason, and keep serving
    """curl -s localhost:8080/v1/compress -d '{"texts": [...], "query": "...", "rate": 0.25, "joint": true}'""": _curl(
        "invalid_request_error"
    ),
    # the README's id is an example no server made: a 404 saying so, and the server keeps serving
    """curl -s localhost:8080/v1/expand -d '{"id": "3f9a2b1c"}'""": _curl('"not_found"'),
}

NOT_RUN: dict[str, str] = {
    "bash scripts/setup.sh && .venv/bin/python -m pytest": "the suite itself: CI runs it (.ci/run)",
    ".venv/bin/python -m pytest -m slow": "the slow suite itself, this test among it",
    "python -m compress.report wandb:<entity>/<project>/multiruns/<sweep>": "needs a W&B account online; "
    "tests/report/test_wandb_runs.py reads runs through the same path from a local W&B server stand-in",
    "python -m compress.run -m hydra/launcher=slurm hydra.launcher.partition=gpu hydra.launcher.timeout_min=240 "
    "hydra.launcher.gpus_per_node=1 'hydra.launcher.setup=[\"source /path/to/compress/.venv/bin/activate\"]' "
    "+experiment=code_q8b train.lora.rank=8,16,32": "needs a SLURM cluster; submitit_local runs the same "
    "launcher code path above",
    "python -m compress.run -m hydra/launcher=ray hydra.launcher.address=ray://head-node:10001 "
    "hydra.launcher.remote.num_gpus=1 +experiment=code_q8b train.lora.rank=8,16": "needs a Ray cluster with "
    "GPUs; the local Ray launcher runs above",
    "python -m compress.run -m hparams_search=teacher_optuna +experiment=smoke": "the same sweeper as "
    "lora_optuna (run above); tests/sweep/test_sweeps.py composes every preset",
    "python -m compress.run -m hparams_search=validation_optuna +experiment=smoke": "as teacher_optuna",
    "python -m compress.run -m hparams_search=lora_optuna +experiment=smoke hydra.sweeper.n_trials=50 "
    "'train.lr=tag(log, interval(1e-6, 1e-3))'": "50 trials of the search run above; the override "
    "syntax is composed by tests/sweep/test_sweeps.py",
    "COMPRESS_SPEC=bm25 COMPRESS_RATE=0.5 COMPRESS_MIN_CHARS=2000 litellm --config config.yaml --port 4000": "needs a provider and its key behind config.yaml; tests/integrations/test_litellm_hook.py runs "
    "real litellm proxy processes with the hook in front of a loopback provider",
    "python -m compress.run evaluate.qa.path=rajpurkar/squad evaluate.qa.split=validation 'evaluate.tasks=[cloze,qa]'": "needs the network (the Hub)",
    'pip install -e ".[serve]"': "installs from the network; scripts/setup.sh installs it",
    "COMPRESS_API_KEY=secret python -m compress.serve truncate --config proxy.yaml": "its proxy.yaml "
    "is the user's; tests/serve/test_server.py starts the server with a key and a proxy config",
}


def test_every_readme_command_has_its_test() -> None:
    commands = readme_commands()
    missing = [c for c in commands if c not in CASES and c not in NOT_RUN]
    assert not missing, (
        "README commands with no Case or NOT_RUN entry in tests/test_readme.py:\n" + "\n".join(missing)
    )
    stale = [c for c in [*CASES, *NOT_RUN] if c not in commands]
    assert not stale, "entries of tests/test_readme.py the README no longer shows:\n" + "\n".join(stale)


def test_the_parser_reads_continuations_and_drops_comments() -> None:
    text = "x\n```bash\npython -m a \\\n  b=1   # why\n# a comment line\necho '# not a comment'\n```\n"
    assert readme_commands(text) == ["python -m a b=1", "echo '# not a comment'"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Repo]:
    copy = Repo(clean_copy(tmp_path_factory.mktemp("readme") / "repo"))
    yield copy
    if "server" in copy.made:  # the README's server: SIGTERM finishes requests in flight and exits
        os.killpg(int(copy.made["server"]), signal.SIGTERM)


def _params(slow: bool) -> list[str]:
    return [c for c in readme_commands() if c in CASES and CASES[c].slow == slow]


def _run(repo: Repo, command: str) -> None:
    case = CASES[command]
    typed = case.typed(repo, command)
    proc = repo.run(typed, case.timeout)
    assert proc.returncode == case.status, f"{typed}\nexit {proc.returncode}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr or case.status == 0, proc.stderr[-3000:]
    case.check(repo, proc)


@pytest.mark.parametrize("command", _params(slow=False))
def test_a_readme_command_runs_as_written(repo: Repo, command: str) -> None:
    _run(repo, command)


@pytest.mark.slow  # each runs a pipeline (the main job about 15 minutes, a smoke run 2-3) on 2 cores
@pytest.mark.parametrize("command", _params(slow=True))
def test_a_readme_pipeline_command_runs_as_written(repo: Repo, command: str) -> None:
    _run(repo, command)


def test_a_two_job_sweep_runs_with_no_path_override(repo: Repo) -> None:
    """The sweep dir resolves in the sweep's driver (it did not: every -m run crashed), under the
    copy's outputs/multiruns, with each job's dir and the sweep's summary and report there."""
    proc = repo.run(
        "python -m compress.run -m +experiment=smoke 'stages=[generate]' data.n_samples=6,8 logger=none", 900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep = repo.root / repo.newest("multiruns")
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1"]
    assert all((sweep / j / "generate" / "_DONE.json").is_file() for j in ("0", "1"))
    summary = json.loads((sweep / "sweep_summary.json").read_text())
    assert [j["status"] for j in summary["jobs"]] == ["completed", "completed"]
