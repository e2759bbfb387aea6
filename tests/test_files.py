"""Files given to a model become text: PDFs through pypdf (capped), UTF-8 text inlined, each a
block headed with its name; anything else is refused naming the file. The PDFs are real ones,
written by the tests."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lmarena_cli.client.content.files import (
    MAX_PDF_CHARS,
    MAX_PDF_PAGES,
    TRUNCATED,
    decode_data_uri,
    file_text,
    read_file,
    with_files,
)
from lmarena_cli.errors import InputError
from tests.helpers.pdfs import encrypt_pdf, make_pdf


def test_a_pdf_becomes_the_text_of_its_pages_under_its_name() -> None:
    pdf = make_pdf(["Quarterly report (draft)", "Revenue grew by 12 percent."])
    assert file_text("report.pdf", pdf, "application/pdf") == (
        "[File: report.pdf]\n"
        "Quarterly report (draft)\n\nRevenue grew by 12 percent.\n"
        "[End of file: report.pdf]"
    )


def test_a_pdf_is_known_by_its_bytes_whatever_its_name_or_type() -> None:
    pdf = make_pdf(["from a pipe"])
    assert "from a pipe" in file_text("upload", pdf, "application/octet-stream")


def test_a_long_pdf_is_cut_at_the_page_cap_and_says_so() -> None:
    pdf = make_pdf([f"page number {n}" for n in range(1, MAX_PDF_PAGES + 11)])
    text = file_text("long.pdf", pdf)
    assert f"page number {MAX_PDF_PAGES}\n" in text
    assert f"page number {MAX_PDF_PAGES + 1}" not in text
    assert text.endswith(f"\n{TRUNCATED}\n[End of file: long.pdf]")


def test_a_pdf_with_much_text_is_cut_at_the_character_cap_and_says_so() -> None:
    line = "word " * 400  # 2,000 characters a page: the cap comes before the page cap
    pdf = make_pdf([line.strip()] * 30)
    text = file_text("dense.pdf", pdf)
    body = text.removeprefix("[File: dense.pdf]\n").removesuffix("\n[End of file: dense.pdf]")
    assert body.endswith(TRUNCATED)
    assert MAX_PDF_CHARS - 100 < len(body) <= MAX_PDF_CHARS + len(TRUNCATED) + 1


def test_a_short_pdf_is_not_marked_truncated() -> None:
    assert TRUNCATED not in file_text("one.pdf", make_pdf(["just one page"]))


def test_an_encrypted_pdf_is_refused_naming_it() -> None:
    locked = encrypt_pdf(make_pdf(["secret plans"]), "hunter2")
    with pytest.raises(InputError) as caught:
        file_text("plans.pdf", locked)
    assert str(caught.value) == "plans.pdf is an encrypted PDF: save a copy without a password"


def test_a_pdf_encrypted_with_an_empty_password_opens() -> None:
    opened = encrypt_pdf(make_pdf(["owner-locked only"]), "")
    assert "owner-locked only" in file_text("open.pdf", opened)


@pytest.mark.parametrize("data", [b"%PDF-1.7\n garbage", b"not a pdf at all"])
def test_a_damaged_pdf_is_refused_naming_it(data: bytes) -> None:
    with pytest.raises(InputError, match=r"^broken\.pdf could not be read as a PDF: "):
        file_text("broken.pdf", data)


def test_a_pdf_without_text_is_refused_saying_why() -> None:
    with pytest.raises(InputError, match=r"^scan\.pdf is a PDF without text"):
        file_text("scan.pdf", make_pdf([""]))


def test_a_text_file_is_inlined_as_it_is() -> None:
    source = "def main():\n    print('héllo')\n"
    assert file_text("main.py", source.encode(), None) == (
        "[File: main.py]\ndef main():\n    print('héllo')\n[End of file: main.py]"
    )
    assert file_text("bom.txt", b"\xef\xbb\xbfwith a BOM") == (
        "[File: bom.txt]\nwith a BOM\n[End of file: bom.txt]"
    )


@pytest.mark.parametrize(
    ("name", "data", "mime", "words"),
    [
        ("cat.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, "(image/png)"),
        ("blob", b"\x00\x01\x02", "application/octet-stream", "(application/octet-stream)"),
        ("latin.txt", "café".encode("latin-1"), None, "not UTF-8 text or a PDF (text/plain)"),
        ("x.zzz", b"\xff\xfe\x00", None, "(binary data)"),
    ],
)
def test_a_binary_file_is_refused_naming_it_and_its_type(
    name: str, data: bytes, mime: str | None, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        file_text(name, data, mime)
    message = str(caught.value)
    assert message.startswith(f"{name} is not ")
    assert words in message
    assert message.endswith("it cannot be given as text")


def test_files_come_before_the_prompt() -> None:
    blocks = [file_text("a.txt", b"alpha"), file_text("b.txt", b"beta")]
    assert with_files("Compare them.", blocks) == (
        "[File: a.txt]\nalpha\n[End of file: a.txt]\n\n"
        "[File: b.txt]\nbeta\n[End of file: b.txt]\n\n"
        "Compare them."
    )
    assert with_files("", blocks[:1]) == blocks[0]


def test_read_file_reads_a_path_and_names_a_missing_one(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Notes\n")
    (tmp_path / "doc.pdf").write_bytes(make_pdf(["from disk"]))
    assert read_file(tmp_path / "notes.md") == "[File: notes.md]\n# Notes\n[End of file: notes.md]"
    assert "from disk" in read_file(str(tmp_path / "doc.pdf"))
    with pytest.raises(InputError) as caught:
        read_file(tmp_path / "nope.txt")
    assert str(caught.value) == f"cannot read {tmp_path / 'nope.txt'}: No such file or directory"


@pytest.mark.parametrize(
    ("uri", "mime", "data"),
    [
        (
            "data:application/pdf;base64," + base64.b64encode(b"%PDF-1").decode(),
            "application/pdf",
            b"%PDF-1",
        ),
        ("data:text/plain;charset=utf-8;base64,aMOpbGxv", "text/plain", "héllo".encode()),
        ("data:text/plain;base64,aGk", "text/plain", b"hi"),  # padding left off
        ("data:,Hello%2C%20World", "text/plain", b"Hello, World"),
        ("DATA:Text/CSV,a%2Cb%0A1%2C2", "text/csv", b"a,b\n1,2"),
    ],
)
def test_data_uris_decode_to_their_type_and_bytes(uri: str, mime: str, data: bytes) -> None:
    assert decode_data_uri(uri) == (mime, data)


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        ("https://example.test/a.pdf", "is not a data: URI"),
        ("data:application/pdf;base64", "has no ','"),
        ("data:application/pdf;base64,@@@@", "is not valid base64"),
        ("data:pdf;base64,AAAA", "names no media type"),
    ],
)
def test_a_bad_data_uri_is_an_input_error(uri: str, words: str) -> None:
    with pytest.raises(InputError, match=r"^the file's data") as caught:
        decode_data_uri(uri, label="the file's data")
    assert words in str(caught.value)
