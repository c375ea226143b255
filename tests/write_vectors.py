"""Write the golden wire bytes (``watchkeeper/schemas/<type>/examples/<stem>.hex``).

Run only when a new schema version or a new example is added on purpose:
``.venv/bin/python tests/write_vectors.py``; test_codec.py then pins them.
"""

from watchkeeper.codec import Codec


def main() -> None:
    codec = Codec()
    for name in codec.registry.names():
        folder = codec.registry.latest(name).path.parent / "examples"
        for stem, example in codec.registry.examples(name).items():
            path = folder / f"{stem}.hex"
            path.write_text(codec.encode(name, example).hex() + "\n")
            print(path)


if __name__ == "__main__":
    main()
