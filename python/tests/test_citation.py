"""CITATION.cff is valid against the Citation File Format schema (1.2.0) and cites the paper."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_the_validator_rejects_an_invalid_file(tmp_path):
    bad = tmp_path / "CITATION.cff"
    bad.write_text("cff-version: 1.2.0\ntitle: no authors, no message\n")
    cffconvert = pathlib.Path(sys.executable).parent / "cffconvert"
    assert subprocess.run([str(cffconvert), "--validate", "--infile", str(bad)], capture_output=True).returncode != 0


def test_citation_file_is_valid_and_cites_the_paper():
    cff = ROOT / "CITATION.cff"
    # The console script of the environment running the tests (the module has no __main__).
    cffconvert = pathlib.Path(sys.executable).parent / "cffconvert"
    result = subprocess.run([str(cffconvert), "--validate", "--infile", str(cff)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = cff.read_text()
    assert "arXiv:1705.08026" in text and "preferred-citation" in text
