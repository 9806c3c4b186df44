"""The README's quick start is what CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_quick_start_is_two_command_lines():
    lines = quick_start_lines()
    assert len(lines) == 2
    assert lines[0].startswith("pip install -e . && python -m harness.run")


def test_ci_runs_the_readme_test_line_verbatim():
    ci_script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert quick_start_lines()[1] in ci_script


def test_engine_example_runs_as_written_and_fits():
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text()
    code = text.split("## The engine", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    mse = float(result.stdout.split("fit MSE on [-1, 1]:", 1)[1].split()[0])
    assert mse < 0.05
    assert "digraph G {" in result.stdout


def test_browse_the_results_starts_the_ui_as_the_runner_says_to():
    from harness.tracking import UI_COMMAND, UI_READY

    section = (ROOT / "README.md").read_text().split("## Browse the results", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    assert any(line.split("#")[0].strip() == UI_COMMAND for line in block.splitlines())
    assert f"`{UI_READY}`" in section  # the line to wait for, as the runner's last line names it
