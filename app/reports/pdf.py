"""PDF documents with fpdf2 (pure Python, well kept): a title, headings, paragraphs and small
tables, in DejaVu Sans when the system has it (any language's letters), else in the PDF core
font with what Latin-1 cannot hold replaced."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


class Document:
    def __init__(self, title: str) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(True, margin=15)
        self.pdf.set_title(title)
        self.pdf.set_creator("Vigil")
        self.unicode = False
        for d in FONT_DIRS:
            regular, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                self.pdf.add_font("Body", "", str(regular))
                self.pdf.add_font("Body", "B", str(bold))
                self.unicode = True
                break
        self.font = "Body" if self.unicode else "Helvetica"
        self.pdf.add_page()
        self.pdf.set_font(self.font, "B", 16)
        self.pdf.multi_cell(0, 8, self._t(title), new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(2)

    def _t(self, text: Any) -> str:
        s = "" if text is None else str(text)
        return s if self.unicode else s.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str) -> None:
        self.pdf.ln(3)
        self.pdf.set_font(self.font, "B", 12)
        self.pdf.multi_cell(0, 7, self._t(text), new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str, size: int = 10) -> None:
        self.pdf.set_font(self.font, "", size)
        self.pdf.multi_cell(0, 5, self._t(text or "—"), new_x="LMARGIN", new_y="NEXT")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], widths: Sequence[int] | None = None) -> None:
        self.pdf.set_font(self.font, "", 8)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5) as t:
            head = t.row()
            for h in header:
                head.cell(self._t(h))
            for r in rows:
                row = t.row()
                for v in r:
                    row.cell(self._t(v))

    def output(self) -> bytes:
        return bytes(self.pdf.output())
