"""How the CLI renders the wait of `up -d`, `start` and `restart`: one line
per agent with a mark, the exit code, and a supervisor that died first."""

from __future__ import annotations

from meshcompose.app.waiting import AgentOutcome, WaitOutcome
from meshcompose.cli.render import print_outcome


def test_every_agent_up_is_success(capsys):
    outcome = WaitOutcome((AgentOutcome("api", "healthy", True), AgentOutcome("setup", "exited (0)", True)))
    assert print_outcome(outcome) == 0
    assert capsys.readouterr().out.splitlines() == [" ✔ api    healthy", " ✔ setup  exited (0)"]


def test_failed_and_late_agents_say_why_and_fail(capsys):
    outcome = WaitOutcome((
        AgentOutcome("api", "running", True, message="ignored when up"),
        AgentOutcome("worker", "failed", False, message="gave up after 3 restart(s)"),
        AgentOutcome("slow", "starting", None),
    ))
    assert print_outcome(outcome) == 1
    assert capsys.readouterr().out.splitlines() == [
        " ✔ api     running",
        " ✘ worker  failed  gave up after 3 restart(s)",
        " … slow    starting  (not up in time; see `mesh-compose logs`)",
    ]


def test_a_supervisor_that_died_first_shows_the_end_of_its_log(capsys):
    outcome = WaitOutcome(supervisor_exit=1, supervisor_log="error: the run plan x is corrupt")
    assert print_outcome(outcome) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "the detached supervisor exited with code 1:\nerror: the run plan x is corrupt\n"
