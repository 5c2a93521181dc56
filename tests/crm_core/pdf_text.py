"""Text of the PDFs this project writes (fpdf2, one embedded TrueType font), for assertions.

Small on purpose: inflate every stream, read the font's ToUnicode map, decode the literal
strings of the text operators. Enough to prove what a transcript PDF says, not a PDF reader.
"""

from __future__ import annotations

import re
import zlib

_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_BFCHAR = re.compile(rb"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]{4,8})>")
_TEXT_BLOCK = re.compile(rb"BT(.*?)ET", re.S)
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}


def _streams(data: bytes) -> list[bytes]:
    out = []
    for raw in _STREAM.findall(data):
        try:
            out.append(zlib.decompress(raw))
        except zlib.error:
            out.append(raw)
    return out


def _literals(block: bytes) -> list[bytes]:
    """The bytes of every `( ... )` string in a text block, escapes resolved."""
    strings, i = [], 0
    while (start := block.find(b"(", i)) != -1:
        buf, depth, j = bytearray(), 1, start + 1
        while depth:
            c = block[j]
            if c == 0x5C:  # backslash
                nxt = block[j + 1]
                octal = re.match(rb"[0-7]{1,3}", block[j + 1 : j + 4])
                if octal:
                    digits = octal.group()
                    buf.append(int(digits, 8))
                    j += 1 + len(digits)
                    continue
                buf.append(_ESCAPES.get(nxt, nxt))
                j += 2
                continue
            if c == 0x28:
                depth += 1
            elif c == 0x29:
                depth -= 1
                if not depth:
                    break
            buf.append(c)
            j += 1
        strings.append(bytes(buf))
        i = j + 1
    return strings


def pdf_text(data: bytes) -> str:
    """One line of text per BT..ET block, in the order drawn."""
    streams = _streams(data)
    glyphs: dict[int, str] = {}
    for stream in streams:
        if b"beginbfchar" in stream:
            for code, uni in _BFCHAR.findall(stream):
                glyphs[int(code, 16)] = bytes.fromhex(uni.decode()).decode("utf-16-be")
    lines = []
    for stream in streams:
        for block in _TEXT_BLOCK.findall(stream):
            raw = b"".join(_literals(block))
            codes = [int.from_bytes(raw[k : k + 2], "big") for k in range(0, len(raw) - 1, 2)]
            lines.append("".join(glyphs.get(code, "\ufffd") for code in codes))
    return "\n".join(line for line in lines if line)
