"""Bad input gives findings, never an exception or an unbounded read."""

from __future__ import annotations

import os

import pytest

from datasets.checks import check_file, reader


def codes(report):
    return {f["code"] for f in report["findings"]}


def test_it_reports_an_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    report = check_file(path, kind="training", base_model="gpt-4o")
    assert "empty_file" in codes(report)
    assert report["blocking"] >= 1


def test_it_reports_a_binary_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(range(256)) * 100)
    assert "binary_file" in codes(check_file(path, kind="training", base_model="gpt-4o"))


def test_it_reports_a_json_array(tmp_path):
    path = tmp_path / "array.json"
    path.write_text('[\n {"messages": []}\n]\n')
    assert "not_jsonl" in codes(check_file(path, kind="training", base_model="gpt-4o"))


def test_it_reports_invalid_utf8(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"messages": [{"role": "user", "content": "café"}]}\n'.encode("latin-1"))
    report = check_file(path, kind="training", base_model="gpt-4o")
    assert [(f["line"], f["code"]) for f in report["findings"] if f["line"]] == [(1, "invalid_utf8")]


def test_it_skips_a_100_mb_line_without_holding_it(tmp_path):
    path = tmp_path / "long.jsonl"
    with open(path, "wb") as handle:
        handle.write(b'{"messages": "' + b"x" * (100 << 20) + b'"}\n')
    report = check_file(path, kind="training", base_model="gpt-4o")
    assert [(f["line"], f["code"]) for f in report["findings"] if f["line"]] == [(1, "line_too_long")]
    assert report["bytes"] > 100 << 20


def test_it_hashes_but_does_not_parse_a_2_gb_file(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as handle:
        handle.truncate(2 << 30)  # sparse
    report = check_file(path, kind="training", base_model="gpt-4o")
    assert "file_too_large" in codes(report)
    assert report["bytes"] == 2 << 30
    assert len(report["sha256"]) == 64


def test_it_refuses_an_unknown_base_model(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("{}\n")
    with pytest.raises(ValueError, match="unknown base model"):
        check_file(path, kind="training", base_model="llama")


def test_the_reader_yields_lines_split_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "CHUNK_BYTES", 7)
    path = tmp_path / "lines.txt"
    path.write_bytes(b"first line\nsecond\n\nlast-without-newline")
    source = reader.open_source(path)
    assert list(reader.lines(source, max_line=12)) == [
        (1, b"first line"),
        (2, b"second"),
        (3, b""),
        (4, None),
    ]
    assert source.read == os.path.getsize(path)
