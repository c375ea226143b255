"""The archive format without Kafka: a round trip, and every kind of damage refused with
its reason (truncation, a flipped byte, a wrong checksum or count in the manifest, a
newer format, a missing or an extra member, junk)."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest

from watchkeeper.backup import ArchiveError, read_manifest, verify
from watchkeeper.backup.checks import walk
from watchkeeper.backup.container import TRAILER_SIZE

from .backup_support import build, record

TOPICS = {
    "silences": {0: [record(0, 1000, b"s1", b'{"id": "s1"}'), record(3, 2000, b"s1", None)]},
    "routing": {
        0: [record(5, 1500, b"fraud", b"{}", trace=b"abc")],
        1: [],
        2: [record(0, 900, None, b"no key", a=b"1", b=None)],
    },
}
FILES = {"router.yaml": b"route: {receiver: oncall}\n", "rollouts/fraud.yaml": b"steps: [10]\n"}


def archive(tmp_path: Path, **kwargs) -> Path:
    path = tmp_path / "a.wkb"
    build(path, TOPICS, FILES, **kwargs)
    return path


def refused(path: Path) -> str:
    with pytest.raises(ArchiveError) as caught:
        verify(path)
    return str(caught.value)


def with_new_trailer(path: Path, body: bytes) -> None:
    """``body`` as the archive, with a trailer that matches it (so the inner checks run)."""
    tag = b"wkb-sum1"
    trailer = struct.pack("<II", 0x184D2A5E, len(tag) + 32) + tag + hashlib.sha256(body).digest()
    path.write_bytes(body + trailer)


def test_round_trip_keeps_every_field(tmp_path):
    path = archive(tmp_path)
    manifest = verify(path)
    assert [(t.name, t.records) for t in manifest.topics] == [("silences", 2), ("routing", 2)]
    assert [c.path for c in manifest.configs] == ["router.yaml", "rollouts/fraud.yaml"]
    got: dict = {}
    files: dict = {}

    def take(entry, records):
        name = entry.member.split("/")[1]
        got.setdefault(name, {})[entry.partition] = list(records)

    walk(path, on_partition=take, on_file=lambda e, data: files.__setitem__(e.path, data))
    assert got == TOPICS
    assert files == FILES
    assert read_manifest(path).topics[1].timestamps() == (900, 1500)


def test_a_truncated_archive_is_refused(tmp_path):
    path = archive(tmp_path)
    whole = path.read_bytes()
    for keep in (len(whole) - 1, len(whole) // 2, 10, 0):
        path.write_bytes(whole[:keep])
        assert "truncated or not a watchkeeper archive" in refused(path)
    # Truncated inside, with a trailer that matches what is left: the inner checks catch it.
    with_new_trailer(path, whole[: (len(whole) - TRAILER_SIZE) // 2])
    reason = refused(path)
    assert any(w in reason for w in ("damaged", "missing members", "not a readable")), reason


def test_a_flipped_byte_is_refused(tmp_path):
    path = archive(tmp_path)
    whole = bytearray(path.read_bytes())
    middle = len(whole) // 2
    whole[middle] ^= 0x01
    path.write_bytes(bytes(whole))
    assert "archive checksum mismatch: the file is corrupt" in refused(path)
    # The same flip under a recomputed trailer: zstd's own frame checksum still sees it.
    with_new_trailer(path, bytes(whole[:-TRAILER_SIZE]))
    reason = refused(path)
    assert any(w in reason for w in ("damaged", "sha256", "not a readable record file")), reason


def test_a_wrong_member_checksum_in_the_manifest_is_refused(tmp_path):
    def edit(body):
        body["topics"][0]["partitions_backed"][0]["sha256"] = "0" * 64

    reason = refused(archive(tmp_path, edit=edit))
    assert reason.startswith("member topics/silences/0.avro: sha256 ")
    assert "is not the manifest's 0000000000000000" in reason


def test_a_member_whose_bytes_changed_is_refused(tmp_path):
    path = tmp_path / "b.wkb"
    build(path, TOPICS, FILES, replace={"config/router.yaml": b"route: {receiver: attack}\n"})
    assert "member config/router.yaml: sha256" in refused(path)


def test_a_wrong_record_count_is_refused(tmp_path):
    def edit(body):
        body["topics"][1]["partitions_backed"][0]["records"] = 7

    assert "member topics/routing/0.avro: 1 records, the manifest says 7" in refused(
        archive(tmp_path, edit=edit)
    )


def test_a_future_format_version_is_refused(tmp_path):
    def edit(body):
        body["format_version"] = "2.0"

    path = archive(tmp_path, edit=edit)
    assert refused(path) == (
        "archive format_version 2.0 is newer than this watchkeeper reads (1.x): restore it "
        "with a newer watchkeeper"
    )
    with pytest.raises(ArchiveError, match="newer"):
        read_manifest(path)  # inspect refuses it too

    def minor(body):
        body["format_version"] = "1.7"
        body["a_field_of_1_7"] = True  # a newer minor's additions are ignored

    assert verify(archive(tmp_path, edit=minor)).format_version == "1.7"


def test_a_missing_member_is_refused(tmp_path):
    reason = refused(archive(tmp_path, drop="topics/routing/2.avro"))
    assert reason == "missing members (truncated archive?): topics/routing/2.avro"


def test_a_member_not_in_the_manifest_is_refused(tmp_path):
    def edit(body):
        body["configs"] = body["configs"][:1]

    assert "member config/rollouts/fraud.yaml is not in the manifest" in refused(
        archive(tmp_path, edit=edit)
    )


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "too short"),
        (b"not an archive at all" * 10, "no checksum trailer"),
    ],
)
def test_junk_is_refused(tmp_path, content, words):
    path = tmp_path / "junk.wkb"
    path.write_bytes(content)
    assert words in refused(path)
    with_new_trailer(path, content)  # junk with a valid trailer: zstd refuses it
    assert "damaged" in refused(path)


def test_a_malformed_manifest_is_refused(tmp_path):
    def edit(body):
        del body["topics"][0]["partitions_backed"][0]["member"]

    assert "manifest.json is malformed" in refused(archive(tmp_path, edit=edit))

    def junk_version(body):
        body["format_version"] = "one"

    assert "is not MAJOR.MINOR" in refused(archive(tmp_path, edit=junk_version))


def test_a_missing_file_is_a_reason_not_a_traceback(tmp_path):
    assert "cannot read" in refused(tmp_path / "nope.wkb")


@pytest.mark.parametrize("where", ["../../outside.yaml", "/etc/passwd", "a/../../b"])
def test_a_configuration_path_outside_the_folder_is_refused(tmp_path, where):
    def edit(body):
        body["configs"][0]["path"] = where

    assert "unsafe configuration path" in refused(archive(tmp_path, edit=edit))
