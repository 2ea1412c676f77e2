import io
import sys

import orjson
import pytest
from django.core.management import call_command

from casefile.events.models import Event

pytestmark = pytest.mark.django_db


def run(capsys, *args):
    code = 0
    try:
        call_command("ingest", *args)
    except SystemExit as exit_:
        code = exit_.code
    return code, orjson.loads(capsys.readouterr().out)


def test_clean_file_exits_0(tmp_path, capsys):
    path = tmp_path / "ok.ndjson"
    path.write_bytes(b'{"message": "a"}\n{"message": "b"}\n')
    code, out = run(capsys, str(path))
    assert (code, out) == (0, {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []})
    code, out = run(capsys, str(path))
    assert (code, out["accepted"], out["duplicates"]) == (0, 0, 2)


def test_some_bad_lines_exit_3_with_line_numbers(tmp_path, capsys):
    path = tmp_path / "mixed.ndjson"
    path.write_bytes(b'{"message": "a"}\nnot json\n{"message": "b"}\n')
    code, out = run(capsys, str(path))
    assert code == 3
    assert (out["accepted"], out["rejected"]) == (2, 1)
    assert out["errors"][0]["line"] == 2


@pytest.mark.parametrize("content", [None, b"{not json at all"])
def test_unusable_input_exits_2(tmp_path, capsys, content):
    path = tmp_path / "in.json"
    if content is not None:
        path.write_bytes(content)
    args = [str(path), "--format", "json"]
    code, out = run(capsys, *args)
    assert code == 2 and out["accepted"] == 0 and out["errors"]


def test_stdin_and_explicit_format(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(
        b"message,level\nfrom stdin,error\n"))))
    code, out = run(capsys, "-", "--format", "csv")
    assert (code, out["accepted"]) == (0, 1)
    assert Event.objects.get().message == "from stdin"


def test_fingerprint_prints_templates_or_issues(tmp_path, capsys):
    path = tmp_path / "auth.log"
    names = ("root", "ftp", "git", "news")
    path.write_text("".join(f"Failed password for {n} from 10.0.0.1 port 22\n" for n in names)
                    + "Connection closed by 10.0.0.2\n")
    call_command("fingerprint", str(path))
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 5 and len({r[0] for r in rows}) == 5  # five templates
    assert rows[0][1] == "Failed password for root from <*> port <*>"
    call_command("fingerprint", str(path), "--issues")
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [r[0] for r in rows] == ["1", "1", "1", "1", "2"]
    assert rows[0][1] == "Failed password for <*> from <*> port <*>"
    assert rows[4][1:] == ["Connection closed by <*>", "Connection closed by <*>"]
