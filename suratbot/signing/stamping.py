"""Write the letter number and date into the PDF where the concept has `${nomor}` / `${tanggal}` (or `[nomor]`).

The placeholder's glyphs are taken out of the page's text (a TJ gap of the same width keeps the rest of the
line where it was) and the value is written as real, searchable text at the placeholder's origin and font
size. A placeholder split over several text runs is found too. Without a placeholder, the value goes into a
configurable box on the first page.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import pikepdf
from pdfminer.fontmetrics import FONT_METRICS

PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "nomor": ("${nomor}", "[nomor]"),
    "tanggal": ("${tanggal}", "[tanggal]"),
    "ttd": ("${ttd}", "[ttd]"),
}
STAMP_FONT = pikepdf.Name("/SuratbotHelv")

_WIN_ANSI_EXTRA = {
    0x80: "\u20ac",
    0x91: "\u2018",
    0x92: "\u2019",
    0x93: "\u201c",
    0x94: "\u201d",
    0x96: "\u2013",
    0x97: "\u2014",
}


class StampingError(Exception):
    """The PDF cannot be numbered; `message` is Indonesian."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass
class Glyph:
    op: int  # index of the text-showing operator in the page's content
    item: int  # index of the string inside a TJ array (0 for Tj)
    start: int  # byte offset of the glyph's code in that string
    length: int  # bytes per code (1 simple fonts, 2 CID fonts)
    char: str
    x: float  # origin in user space
    y: float
    size: float  # effective font size in user space
    width: float  # advance in text space thousandths (unscaled by size)


@dataclass
class Found:
    key: str
    page: int
    x: float
    y: float
    size: float
    glyphs: list[Glyph] = field(default_factory=list)


@dataclass(frozen=True)
class FallbackBox:
    """Where a value goes when the page has no placeholder for it: first page, PDF points from bottom left."""

    x: float
    y: float
    size: float = 11.0


DEFAULT_FALLBACK = {"nomor": FallbackBox(72, 700), "tanggal": FallbackBox(400, 700)}


# --- fonts: codes -> characters and widths ------------------------------------------------------------------


class _Font:
    def __init__(self, font: pikepdf.Dictionary) -> None:
        self.cid = font.get("/Subtype") == "/Type0"
        self.to_unicode = _parse_to_unicode(font.get("/ToUnicode"))
        self.widths: dict[int, float] = {}
        self.default_width = 1000.0 if self.cid else 500.0
        if self.cid:
            descendant = font["/DescendantFonts"][0]
            self.default_width = float(descendant.get("/DW", 1000))
            self.widths = _parse_cid_widths(descendant.get("/W"))
        else:
            first = int(font.get("/FirstChar", 0))
            for i, w in enumerate(font.get("/Widths", [])):
                self.widths[first + i] = float(w)
        self.standard_widths: dict[str, float] = {}
        if not self.cid and not self.widths:  # a standard 14 font: its widths are in the AFM metrics
            base = str(font.get("/BaseFont", "/Helvetica"))[1:]
            metrics = FONT_METRICS.get(base) or FONT_METRICS["Helvetica"]
            self.standard_widths = {char: float(w) for char, w in metrics[1].items()}
        self.differences: dict[int, str] = {}
        encoding = font.get("/Encoding")
        if isinstance(encoding, pikepdf.Dictionary) and "/Differences" in encoding:
            code = 0
            for item in encoding["/Differences"]:
                if isinstance(item, int | pikepdf.Object) and not isinstance(item, pikepdf.Name):
                    code = int(item)
                else:
                    self.differences[code] = _glyph_name_char(str(item)[1:])
                    code += 1

    def codes(self, data: bytes) -> list[tuple[int, int, int]]:
        """(code, offset, length) for each glyph code in a string."""
        if self.cid:
            return [((data[i] << 8) | data[i + 1], i, 2) for i in range(0, len(data) - 1, 2)]
        return [(b, i, 1) for i, b in enumerate(data)]

    def char(self, code: int) -> str:
        if code in self.to_unicode:
            return self.to_unicode[code]
        if code in self.differences:
            return self.differences[code]
        if self.cid:
            return "\ufffd"
        return _WIN_ANSI_EXTRA.get(code, bytes([code]).decode("latin-1"))

    def width(self, code: int) -> float:
        if self.standard_widths:
            return self.standard_widths.get(self.char(code), self.default_width)
        return self.widths.get(code, self.default_width)


def _glyph_name_char(name: str) -> str:
    simple = {"dollar": "$", "braceleft": "{", "braceright": "}", "bracketleft": "[", "bracketright": "]", "space": " "}
    if name in simple:
        return simple[name]
    if len(name) == 1:
        return name
    if name.startswith("uni") and len(name) == 7:
        try:
            return chr(int(name[3:], 16))
        except ValueError:
            return "\ufffd"
    return "\ufffd"


def _parse_to_unicode(stream: object) -> dict[int, str]:
    if not isinstance(stream, pikepdf.Stream):
        return {}
    text = stream.read_bytes().decode("latin-1")
    mapping: dict[int, str] = {}

    def hex_text(h: str) -> str:
        data = bytes.fromhex(h)
        return data.decode("utf-16-be", errors="replace") if len(data) % 2 == 0 else data.decode("latin-1")

    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block):
            mapping[int(src, 16)] = hex_text(dst)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, rest in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(\[[^\]]*\]|<[0-9A-Fa-f]*>)", block):
            lo_i, hi_i = int(lo, 16), int(hi, 16)
            if rest.startswith("["):
                for i, dst in enumerate(re.findall(r"<([0-9A-Fa-f]*)>", rest)):
                    mapping[lo_i + i] = hex_text(dst)
            else:
                base = bytes.fromhex(rest[1:-1])
                for i in range(hi_i - lo_i + 1):
                    value = int.from_bytes(base, "big") + i
                    mapping[lo_i + i] = hex_text(value.to_bytes(len(base), "big").hex())
    return mapping


def _parse_cid_widths(w: object) -> dict[int, float]:
    widths: dict[int, float] = {}
    if not isinstance(w, pikepdf.Array):
        return widths
    items = list(w)
    i = 0
    while i < len(items):
        first = int(items[i])
        nxt = items[i + 1]
        if isinstance(nxt, pikepdf.Array):
            for j, value in enumerate(nxt):
                widths[first + j] = float(value)
            i += 2
        else:
            last, value = int(nxt), float(items[i + 2])
            for cid in range(first, last + 1):
                widths[cid] = value
            i += 3
    return widths


# --- the text-state walk over one page ----------------------------------------------------------------------


def _mul(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    )


IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _glyphs(page: pikepdf.Page, ops: list[pikepdf.ContentStreamInstruction]) -> list[Glyph]:
    """Every glyph the page's own content shows, in content order, with its origin and size."""
    fonts_dict = page.resources.get("/Font", pikepdf.Dictionary())
    cache: dict[str, _Font] = {}
    glyphs: list[Glyph] = []
    ctm, stack = IDENTITY, []
    tm = tlm = IDENTITY
    font: _Font | None = None
    size = char_space = word_space = rise = leading = 0.0
    scale = 1.0
    for index, instr in enumerate(ops):
        op = str(instr.operator)
        args = list(instr.operands)
        try:
            if op == "q":  # the text state (font, spacing, scaling, leading, rise) is part of the saved state
                stack.append((ctm, font, size, char_space, word_space, scale, leading, rise))
                continue
            if op == "Q":
                if stack:
                    ctm, font, size, char_space, word_space, scale, leading, rise = stack.pop()
                continue
            tm, tlm, ctm, font, size, char_space, word_space, scale, leading, rise = _step(
                op, args, index, glyphs, cache, fonts_dict,
                (tm, tlm, ctm, font, size, char_space, word_space, scale, leading, rise),
            )  # fmt: skip
        except (IndexError, KeyError, TypeError, ValueError, ZeroDivisionError, pikepdf.PdfError):
            continue  # a malformed operator draws nothing we could find a placeholder in
    return glyphs


_State = tuple[Any, ...]  # (tm, tlm, ctm, font, size, char_space, word_space, scale, leading, rise)


def _step(
    op: str,
    args: list[Any],
    index: int,
    glyphs: list[Glyph],
    cache: dict[str, _Font],
    fonts_dict: pikepdf.Dictionary,
    state: _State,
) -> _State:
    """One content operator applied to the text state (appending the glyphs a text-showing operator shows)."""
    tm, tlm, ctm, font, size, char_space, word_space, scale, leading, rise = state
    if op == "cm":
        ctm = _mul(tuple(float(a) for a in args), ctm)
    elif op == "BT":
        tm = tlm = IDENTITY
    elif op == "Tf":
        name = str(args[0])
        if name not in cache and name in fonts_dict:
            cache[name] = _Font(fonts_dict[name])
        font, size = cache.get(name), float(args[1])
    elif op == "Tc":
        char_space = float(args[0])
    elif op == "Tw":
        word_space = float(args[0])
    elif op == "Tz":
        scale = float(args[0]) / 100
    elif op == "TL":
        leading = float(args[0])
    elif op == "Ts":
        rise = float(args[0])
    elif op in ("Td", "TD"):
        if op == "TD":
            leading = -float(args[1])
        tlm = _mul((1, 0, 0, 1, float(args[0]), float(args[1])), tlm)
        tm = tlm
    elif op == "Tm":
        tlm = tm = tuple(float(a) for a in args)
    elif op == "T*":
        tlm = _mul((1, 0, 0, 1, 0, -leading), tlm)
        tm = tlm
    elif op in ("Tj", "TJ", "'", '"'):
        if op in ("'", '"'):
            if op == '"':
                word_space, char_space = float(args[0]), float(args[1])
            tlm = _mul((1, 0, 0, 1, 0, -leading), tlm)
            tm = tlm
        items = list(args[-1]) if op == "TJ" else [args[-1]]
        for item_index, item in enumerate(items):
            if not isinstance(item, pikepdf.String):
                tm = _mul((1, 0, 0, 1, -float(item) / 1000 * size * scale, 0), tm)
                continue
            if font is None:
                continue
            data = bytes(item)
            for code, offset, length in font.codes(data):
                trm = _mul((size * scale, 0, 0, size, 0, rise), _mul(tm, ctm))
                char = font.char(code)
                width = font.width(code)
                glyphs.append(
                    Glyph(index, item_index, offset, length, char, trm[4], trm[5], abs(trm[3]) or size, width)
                )
                spacing = char_space + (word_space if length == 1 and code == 32 else 0)
                tx = (width / 1000 * size + spacing) * scale
                tm = _mul((1, 0, 0, 1, tx, 0), tm)
    return (tm, tlm, ctm, font, size, char_space, word_space, scale, leading, rise)


def find_placeholders(pdf: bytes) -> list[Found]:
    """Every placeholder of `PLACEHOLDERS` on every page, however its glyphs are split over text runs."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        found: list[Found] = []
        for page_index, page in enumerate(doc.pages):
            found.extend(_find_on_page(page_index, _glyphs(page, list(pikepdf.parse_content_stream(page)))))
        return found


def _page_text(glyphs: list[Glyph]) -> tuple[str, list[int]]:
    """The text the glyphs show, and for each character the glyph it came from (a glyph may stand for several
    characters, a "fi" ligature, or none)."""
    chars: list[str] = []
    owner: list[int] = []
    for number, glyph in enumerate(glyphs):
        for char in glyph.char:
            chars.append(char)
            owner.append(number)
    return "".join(chars), owner


def _find_on_page(page_index: int, glyphs: list[Glyph]) -> list[Found]:
    text, owner = _page_text(glyphs)
    found = []
    for key, tokens in PLACEHOLDERS.items():
        for token in tokens:
            for match in re.finditer(re.escape(token), text):
                part = [glyphs[n] for n in sorted(set(owner[match.start() : match.end()]))]
                found.append(Found(key, page_index, part[0].x, part[0].y, part[0].size, part))
    return found


def _helvetica_width(text: str) -> float:
    """The advance of `text` in Helvetica, in thousandths of the font size."""
    metrics = FONT_METRICS["Helvetica"][1]
    return float(sum(metrics.get(char, 556) for char in text))


# --- writing the values ---------------------------------------------------------------------------------------


def _encode(text: str) -> bytes:
    """WinAnsi bytes for the Helvetica we add (pikepdf escapes parentheses and backslashes itself)."""
    return text.encode("cp1252", errors="replace")


def fill(pdf: bytes, values: dict[str, str], *, fallback: dict[str, FallbackBox] | None = None) -> bytes:
    """`pdf` with each `values[key]` written at its placeholder (or, for nomor/tanggal, in the fallback box).

    Placeholders for keys not in `values` (e.g. `${ttd}`, where the signature goes) are left as they are.
    """
    fallback = DEFAULT_FALLBACK if fallback is None else fallback
    try:
        doc = pikepdf.open(io.BytesIO(pdf))
    except pikepdf.PasswordError as exc:
        raise StampingError("pdf_terkunci", "PDF ini terenkripsi, jadi nomor tidak bisa dituliskan.") from exc
    except pikepdf.PdfError as exc:
        raise StampingError("pdf_rusak", "Berkas PDF ini rusak, jadi nomor tidak bisa dituliskan.") from exc
    with doc:
        if doc.is_encrypted:
            raise StampingError("pdf_terkunci", "PDF ini terenkripsi, jadi nomor tidak bisa dituliskan.")
        try:
            return _fill(doc, values, fallback)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, pikepdf.PdfError) as exc:
            raise StampingError("pdf_rusak", "Susunan PDF ini tidak biasa, jadi nomor tidak bisa dituliskan.") from exc


def _fill(doc: pikepdf.Pdf, values: dict[str, str], fallback: dict[str, FallbackBox]) -> bytes:
    placed: set[str] = set()
    for page_index, page in enumerate(doc.pages):
        ops = list(pikepdf.parse_content_stream(page))
        hits = [f for f in _find_on_page(page_index, _glyphs(page, ops)) if f.key in values]
        if not hits:
            continue
        # The value takes the placeholder's place in the line: what follows moves by the difference.
        gaps = {id(f.glyphs[0]): _helvetica_width(values[f.key]) for f in hits}
        _remove_glyphs(ops, [g for f in hits for g in f.glyphs], gaps)
        ops = _isolated(ops)
        for f in hits:
            ops.extend(_text_ops(values[f.key], f.x, f.y, f.size))
            placed.add(f.key)
        _write_page(doc, page, ops)
    missing = [key for key in values if key not in placed and key in fallback]
    if missing:
        page = doc.pages[0]
        ops = _isolated(list(pikepdf.parse_content_stream(page)))
        for key in missing:
            box = fallback[key]
            ops.extend(_text_ops(values[key], box.x, box.y, box.size))
        _write_page(doc, page, ops)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _isolated(ops: list[pikepdf.ContentStreamInstruction]) -> list[pikepdf.ContentStreamInstruction]:
    """The page's own content inside q ... Q, so whatever state it leaves behind (a flipped or scaled CTM,
    invisible text mode) does not reach what we add after it."""
    return [
        pikepdf.ContentStreamInstruction([], pikepdf.Operator("q")),
        *ops,
        pikepdf.ContentStreamInstruction([], pikepdf.Operator("Q")),
    ]


def _text_ops(value: str, x: float, y: float, size: float) -> list[pikepdf.ContentStreamInstruction]:
    def op(name: str, *operands: object) -> pikepdf.ContentStreamInstruction:
        return pikepdf.ContentStreamInstruction(list(operands), pikepdf.Operator(name))

    return [
        op("q"),
        op("BT"),
        op("rg", 0, 0, 0),
        op("Tr", 0),  # plain filled text, with no spacing or scaling left over from the page
        op("Tc", 0),
        op("Tw", 0),
        op("Tz", 100),
        op("Ts", 0),
        op("Tf", STAMP_FONT, size),
        op("Tm", 1, 0, 0, 1, x, y),
        op("Tj", pikepdf.String(_encode(value))),
        op("ET"),
        op("Q"),
    ]


def _remove_glyphs(ops: list[pikepdf.ContentStreamInstruction], glyphs: list[Glyph], gaps: dict[int, float]) -> None:
    """Take the placeholder glyphs out of their strings. In place of a placeholder's first glyph goes a TJ gap
    as wide as the value written there (`gaps`, by glyph id), so the rest of the line makes room for it."""
    by_op: dict[int, list[Glyph]] = {}
    for g in glyphs:
        by_op.setdefault(g.op, []).append(g)
    for index in sorted(by_op, reverse=True):  # from the end: inserted operators shift nothing still to do
        removed = by_op[index]
        instr = ops[index]
        op = str(instr.operator)
        operands = list(instr.operands)
        items = list(operands[-1]) if op == "TJ" else [operands[-1]]
        new_items: list[object] = []
        for item_index, item in enumerate(items):
            if not isinstance(item, pikepdf.String):
                new_items.append(item)
                continue
            gone = sorted((g for g in removed if g.item == item_index), key=lambda g: g.start)
            if not gone:
                new_items.append(item)
                continue
            data = bytes(item)
            cursor = 0
            for g in gone:
                if g.start > cursor:
                    new_items.append(pikepdf.String(data[cursor : g.start]))
                if id(g) in gaps:
                    new_items.append(-gaps[id(g)])  # move right by the value's width
                cursor = g.start + g.length
            if cursor < len(data):
                new_items.append(pikepdf.String(data[cursor:]))
        array = pikepdf.Array(new_items)
        if op == "TJ":
            ops[index] = pikepdf.ContentStreamInstruction([array], pikepdf.Operator("TJ"))
        elif op == "Tj":
            ops[index] = pikepdf.ContentStreamInstruction([array], pikepdf.Operator("TJ"))
        else:  # ' and " move to the next line first: keep that, then show the array
            prefix = operands[:-1]
            line = [pikepdf.ContentStreamInstruction([], pikepdf.Operator("T*"))]
            if op == '"':
                line = [
                    pikepdf.ContentStreamInstruction([prefix[0]], pikepdf.Operator("Tw")),
                    pikepdf.ContentStreamInstruction([prefix[1]], pikepdf.Operator("Tc")),
                    *line,
                ]
            ops[index] = line[0]
            for extra_index, extra in enumerate(
                [*line[1:], pikepdf.ContentStreamInstruction([array], pikepdf.Operator("TJ"))]
            ):
                ops.insert(index + 1 + extra_index, extra)


def _write_page(doc: pikepdf.Pdf, page: pikepdf.Page, ops: list[pikepdf.ContentStreamInstruction]) -> None:
    resources = page.obj.get("/Resources")
    if resources is None:
        page.obj.Resources = resources = pikepdf.Dictionary()
    if "/Font" not in resources:
        resources.Font = pikepdf.Dictionary()
    fonts = resources.Font
    if STAMP_FONT not in fonts:
        fonts[STAMP_FONT] = doc.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type1,
                BaseFont=pikepdf.Name.Helvetica,
                Encoding=pikepdf.Name.WinAnsiEncoding,
            )
        )
    page.obj.Contents = doc.make_stream(pikepdf.unparse_content_stream(ops))


def add_footer(pdf: bytes, lines: list[str], *, size: float = 7.0, x: float = 40.0, y: float = 22.0) -> bytes:
    """Every page gets `lines` of small text at its foot (the electronic-signature notice), as real text."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            ops = _isolated(list(pikepdf.parse_content_stream(page)))
            for i, line in enumerate(lines):
                ops.extend(_text_ops(line, x, y + (len(lines) - 1 - i) * (size + 2), size))
            _write_page(doc, page, ops)
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()


def has_signatures(pdf: bytes) -> bool:
    """Whether the PDF already carries a signature field with a value: rewriting it would break that signature."""
    try:
        with pikepdf.open(io.BytesIO(pdf)) as doc:
            form = doc.Root.get("/AcroForm")
            fields = list(form.get("/Fields", [])) if form is not None else []
            stack = fields
            while stack:
                field = stack.pop()
                if field.get("/FT") == "/Sig" and "/V" in field:
                    return True
                stack.extend(field.get("/Kids", []))
    except pikepdf.PdfError:
        return False
    return False


# --- where the signature mark goes, and what is drawn on the page besides the number -----------------------

STAMP_SIZE = (235.0, 90.0)  # the visible signature mark: QR code on the left, five lines of text on its right
MIN_STAMP_HEIGHT = 60.0


@dataclass(frozen=True)
class Placement:
    """Where the signature mark goes: a page index and a box in PDF points, and how it was chosen."""

    page: int
    box: tuple[float, float, float, float]
    how: str  # "ttd" (the placeholder), "nama" (above the signer's name block), "pojok" (bottom right)


def _squeeze(text: str) -> tuple[str, list[int]]:
    """`text` case-folded without whitespace, and for each kept character the index it came from."""
    kept, where = [], []
    for i, char in enumerate(text):
        if not char.isspace():
            kept.append(char.casefold())
            where.append(i)
    return "".join(kept), where


def _last_line_with(glyphs: list[Glyph], needle: str) -> Found | None:
    """The last place `needle` is shown on a page (spacing and case do not matter: a name may be in capitals,
    and words may be set apart by gaps rather than spaces)."""
    target, _ = _squeeze(needle)
    if not target:
        return None
    shown, owner = _page_text(glyphs)
    text, where = _squeeze(shown)
    at = text.rfind(target)
    if at < 0:
        return None
    first = glyphs[owner[where[at]]]
    return Found(
        "nama", -1, first.x, first.y, first.size, [glyphs[owner[where[i]]] for i in range(at, at + len(target))]
    )


def page_box(doc: pikepdf.Pdf, index: int) -> tuple[float, float, float, float]:
    """A page's MediaBox as (left, bottom, right, top)."""
    box = [float(v) for v in doc.pages[index].mediabox]
    return min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])


def place_stamp(pdf: bytes, *, name: str | None = None, nip: str | None = None) -> tuple[bytes, Placement]:
    """Where the signature mark goes: at `${ttd}` (taken out of the text first, before anything is signed), else
    in the space above the signer's name block on the last page (found by `name`, else by the `nip` line under
    it), else bottom right of the last page. Returns the PDF (without the placeholder) and the place."""
    width, height = STAMP_SIZE
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        last = len(doc.pages) - 1
        left, _, right, top = page_box(doc, last)
        spots = [f for f in find_placeholders(pdf) if f.key == "ttd"]
        if spots:
            spot = spots[0]
            l2, b2, r2, t2 = page_box(doc, spot.page)
            x0 = max(l2 + 10, min(spot.x, r2 - 10 - width))
            y0 = max(b2 + 10, min(spot.y + spot.size, t2 - 10) - height)
            return fill(pdf, {"ttd": ""}), Placement(spot.page, (x0, y0, x0 + width, y0 + height), "ttd")
        glyphs = _glyphs(doc.pages[last], list(pikepdf.parse_content_stream(doc.pages[last])))
        anchor = _last_line_with(glyphs, name) if name else None
        anchor_top = anchor.y + anchor.size if anchor else None
        if anchor is None and nip:
            below = _last_line_with(glyphs, nip)
            if below is not None:  # the name is the line above the NIP
                anchor, anchor_top = below, below.y + below.size * 2.4
        if anchor is not None and anchor_top is not None:
            floor = anchor_top + 2
            # The nearest line above the name block (the position, "Kepala Dinas,"), where it overlaps the block.
            above = [  # each glyph's lowest point: its baseline less the descent of the letters below it
                g.y - 0.25 * g.size for g in glyphs if g.y > floor and anchor.x - width < g.x < anchor.x + width
            ]
            ceiling = min(above) - 1 if above else floor + height
            box_height = max(MIN_STAMP_HEIGHT, min(height, ceiling - floor))
            box_width = width * box_height / height
            x0 = max(left + 10, min(anchor.x, right - 10 - box_width))
            y0 = min(floor, top - 10 - box_height)
            return pdf, Placement(last, (x0, y0, x0 + box_width, y0 + box_height), "nama")
    return pdf, corner_placement(pdf)


def corner_placement(pdf: bytes) -> Placement:
    """Bottom right of the last page, for a PDF whose pages may not change (it carries signatures already)."""
    width, height = STAMP_SIZE
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        last = len(doc.pages) - 1
        _, bottom, right, _ = page_box(doc, last)
    x1, y0 = right - 30, bottom + 40
    return Placement(last, (x1 - width, y0, x1, y0 + height), "pojok")


def _qr_ops(url: str, x: float, y: float, side: float) -> list[pikepdf.ContentStreamInstruction]:
    """A QR code for `url` as filled squares (vector: sharp at any zoom), `side` points wide, bottom left at x, y."""
    import qrcode

    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    cell = side / len(matrix)

    def op(name: str, *operands: object) -> pikepdf.ContentStreamInstruction:
        return pikepdf.ContentStreamInstruction(list(operands), pikepdf.Operator(name))

    ops = [op("q"), op("rg", 0, 0, 0)]
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            if dark:
                ops.append(op("re", x + column * cell, y + side - (row + 1) * cell, cell, cell))
    ops += [op("f"), op("Q")]
    return ops


def _edit_page(pdf: bytes, page: int, add: Any) -> bytes:
    """`pdf` with the operators `add(doc, page_index)` returns drawn on top of page `page` (-1: the last)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        index = page if page >= 0 else len(doc.pages) + page
        target = doc.pages[index]
        ops = _isolated(list(pikepdf.parse_content_stream(target)))
        ops.extend(add(doc, index))
        _write_page(doc, target, ops)
        out = io.BytesIO()
        doc.save(out)
        return out.getvalue()


def draw_mark(pdf: bytes, placement: Placement, lines: list[str], url: str, *, size: float = 7.5) -> bytes:
    """The visible signature mark drawn into the page itself: a QR code for `url` and `lines` beside it (for a
    signing service that signs over a mark already on the page)."""
    x0, y0, x1, y1 = placement.box
    side = min(y1 - y0, (x1 - x0) * 0.38)

    def add(_doc: pikepdf.Pdf, _index: int) -> list[pikepdf.ContentStreamInstruction]:
        ops = _qr_ops(url, x0, y1 - side, side)
        text_x = x0 + side + 6
        step = min(size + 2.5, (y1 - y0) / max(len(lines), 1))
        for i, line in enumerate(lines):
            ops.extend(_text_ops(line, text_x, y1 - size - i * step, min(size, step - 1)))
        return ops

    return _edit_page(pdf, placement.page, add)


def add_lines(
    pdf: bytes, lines: list[str], *, page: int = -1, x: float = 40.0, y: float = 48.0, size: float = 7.0
) -> bytes:
    """`lines` of small text on one page, the last line's baseline at `y` (the paraf block of the archival copy)."""

    def add(_doc: pikepdf.Pdf, _index: int) -> list[pikepdf.ContentStreamInstruction]:
        ops: list[pikepdf.ContentStreamInstruction] = []
        for i, line in enumerate(lines):
            ops.extend(_text_ops(line, x, y + (len(lines) - 1 - i) * (size + 2), size))
        return ops

    return _edit_page(pdf, page, add)
