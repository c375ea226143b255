"""The services table of ``docs/architecture.md``, made from the specs (a test keeps the
document equal to it: ``python -m services.catalog`` prints it)."""

from __future__ import annotations

from . import NAMES, spec

ENGINE_WORDS = {
    "batch": "batch (transactions)",
    "faust": "Faust",
    "own": "its own loop",
}


def rows() -> list[list[str]]:
    found = []
    for name in NAMES:
        s = spec(name)
        found.append(
            [
                f"`{name}`",
                ENGINE_WORDS[s.engine],
                ", ".join(s.inputs) or "-",
                ", ".join(s.outputs) or "-",
                s.state_topic or "-",
                s.surface or "-",
                f"[{name}]({s.doc.removeprefix('docs/')})" if s.doc else "-",
            ]
        )
    return found


def table() -> str:
    header = ["service", "engine", "consumes", "produces", "state", "also", "page"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
