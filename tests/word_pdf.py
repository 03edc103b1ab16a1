"""Word-style PDFs for tests: hybrid-reference files (classic xref table plus /XRefStm) written byte by byte."""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass, field

from pdfminer.fontmetrics import FONT_METRICS

# Word's A4 page, margins and body text (Arial 11 pt, which Word writes as 11.04).
PAGE_WIDTH, PAGE_HEIGHT = 595.32, 841.92
LEFT = 72.024
TOP = 769.42
LEADING = 13.8
FONT_SIZE = 11.04
FOOTER_SIZE = 9.0
FOOTER_Y = 48.96
BOTTOM = 90.0  # body text stays above this (the footer and the signature stamp live below)
MAX_LINES = int((TOP - BOTTOM) // LEADING) + 1

PRODUCER = "Microsoft® Word untuk Microsoft 365"
CREATED = "D:20261125090000+07'00'"
SAVED_AGAIN = "D:20261125093000+07'00'"

# Fixed object numbers of the first revision (pages, contents and structure elements follow).
CATALOG, PAGES, INFO, METADATA = 1, 2, 3, 4
BODY_FONT, BODY_DESCRIPTOR, BODY_WIDTHS = 5, 6, 7
FOOTER_FONT, FOOTER_CID_FONT, FOOTER_DESCRIPTOR, FOOTER_TO_UNICODE = 8, 9, 10, 11
STRUCT_ROOT, PARENT_TREE, ROLE_MAP, DOCUMENT_ELEM, VIEWER_PREFS = 12, 13, 14, 15, 16
FIRST_PAGE_OBJECT = 17

_HELVETICA = FONT_METRICS["Helvetica"][1]


def annex_lines(page_number: int) -> list[str]:
    """What a page after the first one says (page_number counts from 1)."""
    return [f"Lampiran {page_number - 1}", "Daftar undangan dan susunan acara terlampir pada halaman ini."]


def footer_text(page_number: int, pages: int) -> str:
    return f"Halaman {page_number} dari {pages}"


# --- PDF syntax helpers ----------------------------------------------------------------------------------


def _num(value: float) -> str:
    """A PDF real the way Word writes it: no exponent, no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _literal(data: bytes) -> bytes:
    """A PDF literal string: parentheses and backslashes escaped, bytes outside ASCII as octal escapes."""
    out = bytearray(b"(")
    for byte in data:
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += f"\\{byte:03o}".encode()
    return bytes(out + b")")


def _pdfdoc(text: str) -> bytes:
    """A text string for /Info: PDFDocEncoding agrees with Latin-1 for everything used here (®)."""
    return _literal(text.encode("latin-1"))


def _winansi(text: str) -> bytes:
    return text.encode("cp1252", errors="replace")


def _char_width(code: int) -> int:
    """Helvetica's (and Arial's: the metrics are the same) advance for a WinAnsi code, in 1/1000 em."""
    try:
        char = bytes([code]).decode("cp1252")
    except UnicodeDecodeError:  # the five codes WinAnsi leaves undefined
        return 0
    return _HELVETICA.get(char, 556 if char.isprintable() else 0)


def _tj_array(text: str) -> bytes:
    """A line as a TJ array, split into runs with small kerning adjustments as Word does.

    Word breaks runs at kerning pairs and at field/character-format boundaries, so a placeholder such as
    `${nomor}` ends up spread over several strings: here a run ends after each `{` and before each `}`,
    and "Y" followed by "t" gets Arial's kerning.
    """
    data = _winansi(text)
    runs: list[tuple[bytes, int]] = []  # (bytes, adjustment after them)
    start = 0
    for i, byte in enumerate(data):
        nxt = data[i + 1] if i + 1 < len(data) else None
        adjust = 0
        if byte == ord("{") or nxt == ord("}"):
            adjust = 3
        elif byte == ord("Y") and nxt == ord("t"):
            adjust = 41
        if adjust and nxt is not None:
            runs.append((data[start : i + 1], adjust))
            start = i + 1
    runs.append((data[start:], 0))
    parts = []
    for chunk, adjust in runs:
        parts.append(_literal(chunk))
        if adjust:
            parts.append(str(adjust).encode())
    return b"[" + b"".join(parts) + b"]"


def _dict(entries: dict[str, str | bytes]) -> bytes:
    body = b"".join(
        b"/" + key.encode() + b" " + (v if isinstance(v, bytes) else v.encode()) for key, v in entries.items()
    )
    return b"<<" + body + b">>"


def _ref(number: int) -> str:
    return f"{number} 0 R"


def _flate(data: bytes) -> bytes:
    return zlib.compress(data, 9)


def _stream(entries: dict[str, str | bytes], data: bytes, *, compress: bool = True) -> bytes:
    if compress:
        data = _flate(data)
        entries = {**entries, "Filter": "/FlateDecode"}
    entries = {**entries, "Length": str(len(data))}
    return _dict(entries) + b"\nstream\r\n" + data + b"\r\nendstream"


def _xref_stream_data(entries: list[tuple[int, int, int]]) -> bytes:
    """Rows of a cross-reference stream with /W [1 4 2], Word's widths."""
    return b"".join(kind.to_bytes(1, "big") + f2.to_bytes(4, "big") + f3.to_bytes(2, "big") for kind, f2, f3 in entries)


def _index(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of object numbers as (first, count) pairs, for /Index."""
    runs: list[tuple[int, int]] = []
    for number in sorted(numbers):
        if runs and runs[-1][0] + runs[-1][1] == number:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((number, 1))
    return runs


def _object_stream(objects: dict[int, bytes]) -> tuple[bytes, int, dict[int, int]]:
    """The decoded data of an /ObjStm holding `objects`, its /First, and each object's index inside it."""
    header = bytearray()
    body = bytearray()
    where: dict[int, int] = {}
    for index, (number, text) in enumerate(objects.items()):
        where[number] = index
        header += f"{number} {len(body)} ".encode()
        body += text + b"\n"
    return bytes(header) + bytes(body), len(header), where


@dataclass
class _File:
    """The bytes being written and where each object landed."""

    out: bytearray
    offsets: dict[int, int] = field(default_factory=dict)

    def obj(self, number: int, body: bytes) -> None:
        self.offsets[number] = len(self.out)
        self.out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"

    def obj_stream(self, number: int, objects: dict[int, bytes]) -> dict[int, int]:
        """Write an object stream; returns each compressed object's index in it."""
        data, first, where = _object_stream(objects)
        self.obj(number, _stream({"Type": "/ObjStm", "N": str(len(objects)), "First": str(first)}, data))
        return where

    def xref_stream(
        self, number: int, trailer: dict[str, str], rows: dict[int, tuple[int, int, int]], *, whole: bool = False
    ) -> None:
        """Write a /Type /XRef stream with `rows` (type, field 2, field 3) by object number.

        `whole`: as Word writes it, without /Index, a row for every object below its own number and none for
        itself, so its /Size is one below the trailer's. Otherwise an /Index of the rows given plus its own.
        """
        if whole:
            ordered = [rows[n] for n in range(number)]
            entries = {"Type": "/XRef", **trailer, "Size": str(number), "W": "[1 4 2]"}
        else:
            rows = {**rows, number: (1, len(self.out), 0)}
            runs = _index(list(rows))
            ordered = [rows[n] for first, count in runs for n in range(first, first + count)]
            index = " ".join(f"{first} {count}" for first, count in runs)
            entries = {"Type": "/XRef", **trailer, "W": "[1 4 2]", "Index": f"[{index}]"}
        self.obj(number, _stream(entries, _xref_stream_data(ordered)))


def _trailer(entries: dict[str, str]) -> bytes:
    return b"trailer\n" + _dict(entries) + b"\n"


def _table_row(offset: int, generation: int, kind: str) -> bytes:
    return f"{offset:010d} {generation:05d} {kind}\r\n".encode()  # always 20 bytes


def _xmp(modified: str) -> bytes:
    """The XMP packet Word writes next to /Info (dates in ISO form)."""
    iso = "2026-11-25T09:00:00+07:00"
    iso_modified = (
        f"{modified[2:6]}-{modified[6:8]}-{modified[8:10]}T{modified[10:12]}:{modified[12:14]}:{modified[14:16]}+07:00"
    )
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="3.1-701">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/"><pdf:Producer>{PRODUCER}</pdf:Producer></rdf:Description>
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt><rdf:li xml:lang="x-default">Konsep surat</rdf:li></rdf:Alt></dc:title><dc:creator><rdf:Seq><rdf:li>Analis Perizinan</rdf:li></rdf:Seq></dc:creator></rdf:Description>
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"><xmp:CreatorTool>{PRODUCER}</xmp:CreatorTool><xmp:CreateDate>{iso}</xmp:CreateDate><xmp:ModifyDate>{iso_modified}</xmp:ModifyDate></rdf:Description>
<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"><xmpMM:DocumentID>uuid:6E0B6C8A-3C2B-4F3B-9E55-1F4C3A0D2B11</xmpMM:DocumentID></rdf:Description>
</rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>""".encode()


def _info(modified: str) -> bytes:
    return _dict(
        {
            "Title": _pdfdoc("Konsep surat"),
            "Author": _pdfdoc("Analis Perizinan"),
            "Creator": _pdfdoc(PRODUCER),
            "CreationDate": _pdfdoc(CREATED),
            "ModDate": _pdfdoc(modified),
            "Producer": _pdfdoc(PRODUCER),
        }
    )


# --- the document ------------------------------------------------------------------------------------------


@dataclass
class _Page:
    number: int  # object number of the /Page
    contents: int  # object number of its content stream
    elements: list[int]  # object numbers of its /P structure elements, by MCID
    lines: list[str]


def _footer_cids(texts: list[str]) -> dict[str, int]:
    """A CID for each character of the footers (Identity-H: two bytes a glyph)."""
    return {char: cid for cid, char in enumerate(sorted(set("".join(texts))), start=1)}


def _to_unicode(cids: dict[str, int]) -> bytes:
    rows = "\n".join(f"<{cid:04X}> <{ord(char):04X}>" for char, cid in cids.items())
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        f"{len(cids)} beginbfchar\n{rows}\nendbfchar\n"
        "endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend"
    ).encode()


def _content(page: _Page, footer: str, cids: dict[str, int]) -> bytes:
    """A page's content as Word draws it: clip to the page, one BT..ET per line inside marked content."""
    ops = [f"q\n0 0 {_num(PAGE_WIDTH)} {_num(PAGE_HEIGHT)} re\nW* n".encode()]
    mcid = 0
    for row, line in enumerate(page.lines):
        if not line:
            continue  # an empty paragraph draws nothing
        y = TOP - row * LEADING
        ops.append(
            f"/P <</MCID {mcid}>> BDC\nBT\n/F1 {_num(FONT_SIZE)} Tf\n1 0 0 1 {_num(LEFT)} {_num(y)} Tm\n0 g\n0 G\n".encode()
            + _tj_array(line)
            + b" TJ\nET\nEMC"
        )
        mcid += 1
    codes = "".join(f"{cids[char]:04X}" for char in footer)
    ops.append(
        b"/Artifact <</Attached [/Bottom]/Type /Pagination /Subtype /Footer>> BDC\nBT\n"
        + f"/F2 {_num(FOOTER_SIZE)} Tf\n1 0 0 1 {_num(LEFT)} {_num(FOOTER_Y)} Tm\n0 g\n0 G\n<{codes}> Tj\n".encode()
        + b"ET\nEMC"
    )
    ops.append(b"Q")
    return b"\n".join(ops)


def word_style_pdf(lines: list[str], *, pages: int = 1, incremental_update: bool = False) -> bytes:
    """An A4 PDF 1.7 as Microsoft Word's "Save as PDF" writes it, with a hybrid cross-reference.

    The first page shows `lines` (WinAnsi text in a non-embedded TrueType Arial with /Widths, placeholders
    such as `${nomor}` split over several TJ runs); each further page shows `annex_lines`; every page has a
    "Halaman i dari n" footer in a Type0 (Identity-H) font, marked as a pagination artifact. The document is
    tagged: /StructTreeRoot with a /P element per line, /ParentTree, /MarkInfo, /Lang, XMP /Metadata. No font
    program is embedded, so the footer's CIDs are not real glyph ids (viewers may draw other glyphs there);
    text extraction goes by its /ToUnicode.

    File structure, as Word writes it:

    1. the objects a PDF 1.4 reader needs (catalog, page tree, pages, contents, fonts, /Info, XMP);
    2. the hidden objects: an /ObjStm holding the structure tree, the font descriptors, the /Widths array,
       the CID font and the viewer preferences; then a /Type /XRef stream without /Index whose rows cover
       every object below its own number (type 2 for the hidden ones), so its /Size is one below the
       trailer's;
    3. a classic `xref` table for all objects in which the hidden ones and their object stream are a chain
       of free entries (generation 65535), and a trailer without /XRefStm;
    4. an empty `xref 0 0` section whose trailer has `/XRefStm` (the stream of 2) and `/Prev` (the table of
       3): a PDF 1.5 reader takes the stream before the older table, an older reader sees only the table.

    With `incremental_update`, the file is saved once more: a new XMP stream (in a classic table) and a new
    /Info, held in a second object stream (so only its /XRefStm knows it), with `/Prev` to the section above.
    """
    if pages < 1:
        raise ValueError("a document has at least one page")
    if len(lines) > MAX_LINES:
        raise ValueError(f"at most {MAX_LINES} lines fit on the first page")

    # Object numbers: the fixed ones, then a page, its content stream and its structure elements per page.
    page_lines = [lines, *(annex_lines(n) for n in range(2, pages + 1))]
    number = FIRST_PAGE_OBJECT
    page_list: list[_Page] = []
    for text in page_lines:
        page_list.append(_Page(number, number + 1, [], text))
        number += 2
    for page in page_list:
        for line in page.lines:
            if line:
                page.elements.append(number)
                number += 1
    object_stream, xref_stream = number, number + 1
    size = xref_stream + 1

    footers = [footer_text(n, pages) for n in range(1, pages + 1)]
    cids = _footer_cids(footers)
    widths = " ".join(str(_char_width(code)) for code in range(32, 256))
    cid_widths = " ".join(str(_HELVETICA.get(char, 556)) for char in cids)
    file_id = hashlib.md5("".join(lines).encode() + bytes([pages])).hexdigest().upper()

    classic: dict[int, bytes] = {
        CATALOG: _dict(
            {
                "Type": "/Catalog",
                "Pages": _ref(PAGES),
                "Lang": "(id-ID)",
                "StructTreeRoot": _ref(STRUCT_ROOT),
                "MarkInfo": "<</Marked true>>",
                "Metadata": _ref(METADATA),
                "ViewerPreferences": _ref(VIEWER_PREFS),
            }
        ),
        PAGES: _dict(
            {"Type": "/Pages", "Count": str(pages), "Kids": "[" + " ".join(_ref(p.number) for p in page_list) + "]"}
        ),
        INFO: _info(CREATED),
        METADATA: _stream({"Type": "/Metadata", "Subtype": "/XML"}, _xmp(CREATED), compress=False),
        BODY_FONT: _dict(
            {
                "Type": "/Font",
                "Subtype": "/TrueType",
                "Name": "/F1",
                "BaseFont": "/Arial",
                "Encoding": "/WinAnsiEncoding",
                "FontDescriptor": _ref(BODY_DESCRIPTOR),
                "FirstChar": "32",
                "LastChar": "255",
                "Widths": _ref(BODY_WIDTHS),
            }
        ),
        FOOTER_FONT: _dict(
            {
                "Type": "/Font",
                "Subtype": "/Type0",
                "BaseFont": "/Arial",
                "Encoding": "/Identity-H",
                "DescendantFonts": f"[{_ref(FOOTER_CID_FONT)}]",
                "ToUnicode": _ref(FOOTER_TO_UNICODE),
            }
        ),
        FOOTER_TO_UNICODE: _stream({}, _to_unicode(cids)),
    }
    for index, page in enumerate(page_list):
        classic[page.number] = _dict(
            {
                "Type": "/Page",
                "Parent": _ref(PAGES),
                "Resources": f"<</Font<</F1 {_ref(BODY_FONT)}/F2 {_ref(FOOTER_FONT)}>>"
                "/ExtGState<<>>/ProcSet[/PDF/Text/ImageB/ImageC/ImageI]>>",
                "MediaBox": f"[0 0 {_num(PAGE_WIDTH)} {_num(PAGE_HEIGHT)}]",
                "Contents": _ref(page.contents),
                "Group": "<</Type/Group/S/Transparency/CS/DeviceRGB>>",
                "Tabs": "/S",
                "StructParents": str(index),
            }
        )
        classic[page.contents] = _stream({}, _content(page, footers[index], cids))

    def descriptor(name: str) -> bytes:
        return _dict(
            {
                "Type": "/FontDescriptor",
                "FontName": name,
                "Flags": "32",
                "ItalicAngle": "0",
                "Ascent": "905",
                "Descent": "-210",
                "CapHeight": "728",
                "AvgWidth": "441",
                "MaxWidth": "2665",
                "FontWeight": "400",
                "XHeight": "250",
                "Leading": "33",
                "StemV": "44",
                "FontBBox": "[-665 -210 2000 728]",
            }
        )

    hidden: dict[int, bytes] = {
        BODY_DESCRIPTOR: descriptor("/Arial"),
        BODY_WIDTHS: f"[{widths}]".encode(),
        FOOTER_CID_FONT: _dict(
            {
                "Type": "/Font",
                "Subtype": "/CIDFontType2",
                "BaseFont": "/Arial",
                "CIDSystemInfo": "<</Registry(Adobe)/Ordering(Identity)/Supplement 0>>",
                "FontDescriptor": _ref(FOOTER_DESCRIPTOR),
                "DW": "1000",
                "W": f"[1 [{cid_widths}]]",
            }
        ),
        FOOTER_DESCRIPTOR: descriptor("/Arial"),
        STRUCT_ROOT: _dict(
            {
                "Type": "/StructTreeRoot",
                "RoleMap": _ref(ROLE_MAP),
                "ParentTree": _ref(PARENT_TREE),
                "K": f"[{_ref(DOCUMENT_ELEM)}]",
                "ParentTreeNextKey": str(pages),
            }
        ),
        PARENT_TREE: _dict(
            {
                "Nums": "["
                + " ".join(
                    f"{i} [" + " ".join(_ref(e) for e in page.elements) + "]" for i, page in enumerate(page_list)
                )
                + "]"
            }
        ),
        ROLE_MAP: _dict({"Footnote": "/Note", "Endnote": "/Note", "Textbox": "/Sect", "Header": "/Sect"}),
        DOCUMENT_ELEM: _dict(
            {
                "P": _ref(STRUCT_ROOT),
                "S": "/Document",
                "Type": "/StructElem",
                "K": "[" + " ".join(_ref(e) for page in page_list for e in page.elements) + "]",
            }
        ),
        VIEWER_PREFS: _dict({"DisplayDocTitle": "true"}),
    }
    for page in page_list:
        for mcid, element in enumerate(page.elements):
            hidden[element] = _dict(
                {"P": _ref(DOCUMENT_ELEM), "S": "/P", "Type": "/StructElem", "Pg": _ref(page.number), "K": f"[{mcid}]"}
            )
    hidden = dict(sorted(hidden.items()))

    f = _File(bytearray(b"%PDF-1.7\r\n%\xb5\xb5\xb5\xb5\r\n"))
    for number in sorted(classic):
        f.obj(number, classic[number])

    # The hidden objects and the cross-reference stream that finds them (and every other object).
    trailer = {"Size": str(size), "Root": _ref(CATALOG), "Info": _ref(INFO), "ID": f"[<{file_id}><{file_id}>]"}
    where = f.obj_stream(object_stream, hidden)
    rows = {n: (1, offset, 0) for n, offset in f.offsets.items()}
    rows.update({n: (2, object_stream, i) for n, i in where.items()})
    rows[0] = (0, 0, 65535)
    f.xref_stream(xref_stream, trailer, rows, whole=True)

    # The classic table: every object, the hidden ones and their object stream as a chain of free entries.
    invisible = [*hidden, object_stream]
    chain = dict(zip([0, *invisible], [*invisible, 0], strict=True))  # free entry -> next free object
    first_table = len(f.out)
    f.out += f"xref\r\n0 {size}\r\n".encode()
    for n in range(size):
        f.out += _table_row(chain[n], 65535, "f") if n in chain else _table_row(f.offsets[n], 0, "n")
    f.out += _trailer(trailer) + f"startxref\r\n{first_table}\r\n%%EOF\r\n".encode()

    # The empty section that points PDF 1.5 readers at the stream, and older ones at the classic table.
    last_section = len(f.out)
    f.out += b"xref\r\n0 0\r\n" + _trailer(
        {**trailer, "Prev": str(first_table), "XRefStm": str(f.offsets[xref_stream])}
    )
    f.out += f"startxref\r\n{last_section}\r\n%%EOF\r\n".encode()

    if incremental_update:
        _append_update(f, size, trailer, last_section, file_id)
    return bytes(f.out)


def _append_update(f: _File, size: int, trailer: dict[str, str], prev: int, file_id: str) -> None:
    """Saved again: a new XMP stream and a new /Info, the /Info inside a new object stream.

    The section's classic table lists the XMP stream, the object stream and the cross-reference stream (plain
    streams an old reader can skip); the new /Info is in the /XRefStm only, so an old reader keeps the first.
    """
    object_stream, xref_stream = size, size + 1
    new_size = xref_stream + 1
    new_id = hashlib.md5(file_id.encode() + b"saved again").hexdigest().upper()
    new_trailer = {**trailer, "Size": str(new_size), "ID": f"[<{file_id}><{new_id}>]"}
    f.obj(METADATA, _stream({"Type": "/Metadata", "Subtype": "/XML"}, _xmp(SAVED_AGAIN), compress=False))
    where = f.obj_stream(object_stream, {INFO: _info(SAVED_AGAIN)})
    rows = {INFO: (2, object_stream, where[INFO]), object_stream: (1, f.offsets[object_stream], 0)}
    f.xref_stream(xref_stream, new_trailer, rows)
    table = len(f.out)
    f.out += b"xref\r\n" + f"{METADATA} 1\r\n".encode() + _table_row(f.offsets[METADATA], 0, "n")
    f.out += f"{object_stream} 2\r\n".encode()
    f.out += _table_row(f.offsets[object_stream], 0, "n") + _table_row(f.offsets[xref_stream], 0, "n")
    f.out += _trailer({**new_trailer, "Prev": str(prev), "XRefStm": str(f.offsets[xref_stream])})
    f.out += f"startxref\r\n{table}\r\n%%EOF\r\n".encode()


# --- reading the cross-reference sections back (for the tests that check the file is really hybrid) ----------


_TABLE = re.compile(rb"(?<![a-z])xref\r?\n((?:\d+ \d+\r?\n(?:\d{10} \d{5} [nf]\s{1,2})*)+)trailer")


def classic_table_entries(pdf: bytes) -> dict[int, str]:
    """What a PDF 1.4 reader learns from every classic `xref` table: object number -> "n" or "f" (newest wins)."""
    entries: dict[int, str] = {}
    for table in _TABLE.finditer(pdf):
        section: dict[int, str] = {}
        lines = table.group(1).split(b"\n")
        i = 0
        while i < len(lines):
            head = lines[i].split()
            i += 1
            if len(head) != 2:
                continue
            first, count = int(head[0]), int(head[1])
            for n in range(first, first + count):
                section[n] = lines[i].split()[2].decode()
                i += 1
        entries.update(section)  # later tables are newer
    return entries


def xref_stream_entries(pdf: bytes) -> list[dict[int, tuple[int, int, int]]]:
    """The rows of each /Type /XRef stream in file order: object number -> (type, field 2, field 3)."""
    streams: list[dict[int, tuple[int, int, int]]] = []
    for match in re.finditer(rb"<<(/Type /XRef.*?)>>\nstream\r\n", pdf, re.S):
        header = match.group(1)
        length = int(re.search(rb"/Length (\d+)", header).group(1))  # type: ignore[union-attr]
        data = zlib.decompress(pdf[match.end() : match.end() + length])
        found = re.search(rb"/Index \[([\d ]+)\]", header)
        size = re.search(rb"/Size (\d+)", header).group(1)  # type: ignore[union-attr]
        index = [int(x) for x in found.group(1).split()] if found else [0, int(size)]
        numbers = [n for first, count in zip(index[::2], index[1::2], strict=True) for n in range(first, first + count)]
        rows = {}
        for k, n in enumerate(numbers):
            row = data[7 * k : 7 * k + 7]
            rows[n] = (row[0], int.from_bytes(row[1:5], "big"), int.from_bytes(row[5:7], "big"))
        streams.append(rows)
    return streams
