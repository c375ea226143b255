"""The LLM price book: USD per million tokens, by provider model, tier and effective date.

Providers price input, output and cached input tokens separately, per million tokens.
Cached tokens are part of ``tokens_in`` (the OpenAI usage convention, and the one our
PredictionEvent example follows): they are billed at the cached rate, the rest of the
input at the input rate. A model without a cached rate bills cached tokens as input.

Tiers follow the long-context pricing of the providers (Gemini 2.5 Pro above 200k prompt
tokens, Claude Sonnet 4 above 200k): when a request's prompt (``tokens_in``) is larger than
a tier's threshold, the **whole request** is billed at that tier's rates, output included.

A price change takes effect from a date (local midnight in the configured time zone);
events before the first date of a model have no price, like unknown models.

>>> book = PriceBook({"gemini-pro": [PriceEntry(0, Rates(1.25, 10.0, 0.3125),
...                                  (Tier(200_000, Rates(2.5, 15.0, 0.625)),))]})
>>> book.cost("gemini-pro", 1, tokens_in=1_000, tokens_out=200, tokens_cached=0)
0.00325
>>> # 250k prompt tokens, 50k of them cached: the whole request at the upper tier
>>> round(book.cost("gemini-pro", 1, 250_000, 1_000, 50_000), 10)
0.54625
>>> book.cost("gpt-9", 1, 10, 10, 0) is None, book.why_unpriced("gpt-9", 1)
(True, 'unknown_provider_model')
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

PER_TOKENS = 1_000_000


class InvalidUsage(ValueError):
    """LLM usage that cannot be priced as reported (cached tokens beyond the prompt)."""


@dataclass(frozen=True)
class Rates:
    """USD per million tokens."""

    input: float
    output: float
    cached: float


@dataclass(frozen=True)
class Tier:
    above: int  # prompt tokens; a request with more is billed at ``rates``
    rates: Rates


@dataclass(frozen=True)
class PriceEntry:
    from_ms: int
    rates: Rates
    tiers: tuple[Tier, ...] = ()  # ascending thresholds

    def rates_for(self, tokens_in: int) -> Rates:
        rates = self.rates
        for tier in self.tiers:
            if tokens_in > tier.above:
                rates = tier.rates
        return rates


class PriceBook:
    """Price entries per provider model, each list sorted by ``from_ms``."""

    def __init__(self, llm: dict[str, list[PriceEntry]]) -> None:
        self.llm = {name: sorted(entries, key=lambda e: e.from_ms) for name, entries in llm.items()}
        self._starts = {name: [e.from_ms for e in entries] for name, entries in self.llm.items()}

    def entry(self, provider_model: str, t_ms: int) -> PriceEntry | None:
        entries = self.llm.get(provider_model)
        if entries is None:
            return None
        last = entries[-1]
        if t_ms >= last.from_ms:  # the usual case: the newest price
            return last
        index = bisect_right(self._starts[provider_model], t_ms)
        return entries[index - 1] if index else None

    def cost(
        self, provider_model: str, t_ms: int, tokens_in: int, tokens_out: int, tokens_cached: int
    ) -> float | None:
        """USD for one request, or None when there is no price for it at ``t_ms``."""
        entry = self.entry(provider_model, t_ms)
        if entry is None:
            return None
        if tokens_cached > tokens_in:
            raise InvalidUsage(
                f"tokens_cached ({tokens_cached}) > tokens_in ({tokens_in}): cached tokens are "
                "counted within tokens_in"
            )
        rates = entry.rates_for(tokens_in) if entry.tiers else entry.rates
        fresh = tokens_in - tokens_cached
        return (
            fresh * rates.input + tokens_cached * rates.cached + tokens_out * rates.output
        ) / PER_TOKENS

    def why_unpriced(self, provider_model: str, t_ms: int) -> str:
        if provider_model not in self.llm:
            return "unknown_provider_model"
        return "no_price_at_date"
