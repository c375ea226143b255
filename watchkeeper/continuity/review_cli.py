"""``watchkeeper review list|answer``: the reviewer's side of human fallback.

``list`` reads the ``human-review`` topic to its end and prints the pending reviews;
``answer REVIEW_ID --label L | --value V`` emits the human's answer as a FeedbackEvent
for the prediction the review is about (same ``event_id``), then marks the review
answered on the topic. Exit 2, with the reason, for an unknown or already answered review
or an answer that is neither a label nor a number.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ..settings import KafkaSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", default=None, help="topic prefix (default WK_TOPIC_PREFIX)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to read the topic")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="pending reviews, oldest first")
    listing.add_argument("--model", default=None, help="only this model's")
    listing.add_argument("--all", action="store_true", help="answered ones too")
    listing.add_argument("--json", action="store_true", help="one JSON record a line")
    answer = actions.add_parser("answer", help="answer one review (emits feedback)")
    answer.add_argument("review_id")
    given = answer.add_mutually_exclusive_group(required=True)
    given.add_argument("--label", help="the right label")
    given.add_argument("--value", type=float, help="the right value (regression)")
    answer.add_argument("--reviewer", default="cli", help="who answers (kept on the topic)")
    answer.add_argument("--again", action="store_true", help="answer an answered review again")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ._review_topic import read_reviews

    settings = KafkaSettings.from_env()
    try:
        reviews, bad = read_reviews(settings, args.prefix, args.timeout)
    except Exception as exc:  # KafkaException (no such topic), TimeoutError (broker away)
        print(f"error: cannot read the human-review topic: {exc}", file=sys.stderr)
        return 1
    if bad:
        print(f"warning: {bad} unreadable record(s) on the topic skipped", file=sys.stderr)
    if args.action == "list":
        return _list(reviews, args)
    return _answer(reviews, args, settings)


def _list(reviews: dict[str, dict[str, Any]], args: argparse.Namespace) -> int:
    shown = [
        r
        for r in reviews.values()
        if (args.all or r.get("state") == "pending")
        and (args.model is None or r.get("model") == args.model)
    ]
    shown.sort(key=lambda r: r.get("requested_at_ms") or 0)
    for review in shown:
        if args.json:
            print(json.dumps(review, sort_keys=True))
        else:
            features = json.dumps(review.get("features"), sort_keys=True)
            print(
                f"{review['review_id']}  {review.get('state', '?'):<8} {review.get('model')} "
                f"{review.get('version') or '-'}  event {review.get('event_id')}  "
                f"{features[:80]}  ({review.get('reason', '')})"
            )
    return 0


def _answer(
    reviews: dict[str, dict[str, Any]], args: argparse.Namespace, settings: KafkaSettings
) -> int:
    review = reviews.get(args.review_id)
    if review is None:
        print(f"error: no review {args.review_id!r} on the topic", file=sys.stderr)
        return 2
    if review.get("state") == "answered" and not args.again:
        print(
            f"error: review {args.review_id} was answered by {review.get('reviewer')} "
            "(--again to answer it anew)",
            file=sys.stderr,
        )
        return 2
    if args.value is not None and not math.isfinite(args.value):
        print("error: --value must be a finite number", file=sys.stderr)
        return 2
    if not isinstance(review.get("event_id"), str) or not isinstance(review.get("model"), str):
        print(f"error: review {args.review_id} has no event_id/model", file=sys.stderr)
        return 2
    from ..sdk import Emitter
    from ._review_topic import ReviewTopic
    from .human import answer_record, encode

    # Feedback first: a crash before the mark leaves the review pending (answered again
    # later: a duplicate label), never marked answered without its feedback.
    with Emitter(settings, prefix=args.prefix, client_id="watchkeeper-review") as emitter:
        emitter.feedback(
            event_id=review["event_id"],
            model=review["model"],
            version=review.get("version"),
            label=args.label,
            value=args.value,
        )
        if emitter.flush(args.timeout):
            print("error: the feedback was not delivered", file=sys.stderr)
            return 1
    topic = ReviewTopic(settings, prefix=args.prefix)
    topic.publish(
        args.review_id, encode(answer_record(review, args.label, args.value, args.reviewer))
    )
    if topic.flush(args.timeout) or topic.failed:
        print("error: feedback sent, but the review could not be marked answered", file=sys.stderr)
        return 1
    print(f"answered {args.review_id}: feedback for event {review['event_id']}")
    return 0
