import os
import signal
import subprocess
import sys
import time

import pytest

from firmware.run import journal as jr

HEADER = {"run_id": "r1", "recipe": "x"}


def make(tmp_path, n=5):
    j = jr.RunJournal.create(tmp_path, "r1", HEADER, 0.0)
    for i in range(n):
        j.append({"type": "sample", "t": i * 0.1}, i * 0.1)
    return j


def test_records_round_trip_with_gapless_seq(tmp_path):
    make(tmp_path).close()
    seqs = [r["seq"] for r in jr.iter_records(tmp_path, "r1")]
    assert seqs == [1, 2, 3, 4, 5]


def test_range_read(tmp_path):
    make(tmp_path, 20).close()
    assert [r["seq"] for r in jr.iter_records(tmp_path, "r1", 5, 8)] == [5, 6, 7, 8]


def test_torn_tail_is_cut_and_seq_continues(tmp_path):
    make(tmp_path).close()
    with open(tmp_path / "r1" / jr.RECORDS_FILE, "ab") as f:
        f.write(b'{"seq":6,"type":"sam')
    j = jr.RunJournal.reopen(tmp_path, "r1", 1.0)
    assert j.append({"type": "sample"}, 1.0) == 6


def test_corrupt_line_detected_by_crc(tmp_path):
    make(tmp_path).close()
    path = tmp_path / "r1" / jr.RECORDS_FILE
    data = path.read_bytes().replace(b'"t":0.4', b'"t":9.4')
    path.write_bytes(data)
    assert jr.repair(tmp_path / "r1")["seq"] == 4


def test_unfinished_run_is_marked_interrupted(tmp_path):
    make(tmp_path).close()
    [s] = jr.unfinished_runs(tmp_path)
    jr.mark_interrupted(tmp_path, s, 2.0, 1e9)
    assert jr.summarize(tmp_path, "r1").outcome == "interrupted"
    assert jr.unfinished_runs(tmp_path) == []


def test_unwritable_journal_raises_journal_error(tmp_path):
    j = make(tmp_path)
    os.close(j._fd)
    with pytest.raises(jr.JournalError):
        j.append({"type": "sample"}, 9.0)


def test_failed_background_fsync_is_raised_by_the_next_append(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError(5, "Input/output error")

    j = make(tmp_path)
    monkeypatch.setattr(jr.os, "fsync", broken_fsync)
    j.append({"type": "sample"}, 2.0)  # a second on: the journal asks its thread to sync
    j._syncer._thread.join(5.0)  # the sync thread ends at its first failure
    with pytest.raises(jr.JournalError, match="Input/output error"):
        j.append({"type": "sample"}, 2.1)


def test_duplicate_run_id_refused(tmp_path):
    make(tmp_path).close()
    with pytest.raises(jr.JournalError):
        jr.RunJournal.create(tmp_path, "r1", HEADER, 0.0)


WRITER = """
import sys
from firmware.run.journal import RunJournal
j = RunJournal.create(sys.argv[1], "k", {"run_id": "k"}, 0.0)
print("ready", flush=True)
i = 0
while True:
    i += 1
    j.append({"type": "sample", "t": i * 0.1, "pad": "x" * (i % 300)}, i * 0.1)
"""


@pytest.mark.parametrize("delay_s", [0.05, 0.13, 0.31])
def test_kill_9_at_any_instant_leaves_a_readable_journal(tmp_path, delay_s):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    last = jr.repair(tmp_path / "k")
    seqs = [r["seq"] for r in jr.iter_records(tmp_path, "k")]
    assert seqs == list(range(1, last["seq"] + 1)) and len(seqs) > 10
