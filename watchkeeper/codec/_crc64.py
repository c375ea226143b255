"""CRC-64-AVRO, the fingerprint of Avro's single-object encoding.

>>> crc64_avro(b'"int"').to_bytes(8, "little").hex()
'8f5c393f1ad57572'
>>> hex(crc64_avro(b'"int"'))
'0x7275d51a3f395c8f'
"""

from __future__ import annotations

EMPTY = 0xC15D213AA4D7A795


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _table()


def crc64_avro(data: bytes) -> int:
    fp = EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp
