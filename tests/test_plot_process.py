"""The drawing process: calls run there, errors come back, and anything it cannot do is
done in the calling process instead."""

import os
import sys
import threading

import pandas as pd
import pytest

from tsforecast import plot_process, plots


def test_calls_run_in_another_process():
    assert plot_process.draw(os.getpid) != os.getpid()
    # the same process answers again
    assert plot_process.draw(os.getpid) == plot_process.draw(os.getpid)


def test_figures_are_drawn_there(tmp_path):
    history = pd.DataFrame(
        {"epoch": [0, 1, 2], "loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.6]}
    )
    plot_process.draw(plots.learning_curve, history, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_error_is_raised_in_the_caller():
    with pytest.raises(ValueError, match="invalid literal"):
        plot_process.draw(int, "not a number")
    # and the process goes on answering
    assert plot_process.draw(abs, -3) == 3


def test_printing_there_does_not_break_the_answers(capfd):
    assert plot_process.draw(print, "to standard output") is None
    assert plot_process.draw(abs, -4) == 4


def test_what_cannot_be_sent_is_called_here():
    pid = os.getpid()
    assert plot_process.draw(lambda: os.getpid()) == pid


def test_an_answer_that_cannot_be_pickled_becomes_an_error():
    with pytest.raises(RuntimeError, match="lock"):
        plot_process.draw(threading.Lock)


def test_a_dead_process_is_replaced_or_bypassed():
    plot_process.start()
    first = plot_process.draw(os.getpid)
    plot_process._process.kill()
    plot_process._process.wait()
    # the call after a death is answered (here or by a new process), never lost
    assert plot_process.draw(abs, -5) == 5
    second = plot_process.draw(os.getpid)
    assert second not in (first, os.getpid())


def test_stop_ends_the_process_and_the_next_call_starts_another():
    first = plot_process.draw(os.getpid)
    assert plot_process.pid() == first
    plot_process.stop()
    assert plot_process.pid() is None
    assert not os.path.exists(f"/proc/{first}")  # ended and reaped
    second = plot_process.draw(os.getpid)
    assert second not in (first, os.getpid())


@pytest.mark.parametrize("executable", ["", "/no/such/python"])
def test_without_a_process_calls_run_here(monkeypatch, executable):
    if plot_process._process is not None:
        plot_process._stop(plot_process._process)
    monkeypatch.setattr(sys, "executable", executable)
    assert plot_process.draw(os.getpid) == os.getpid()
