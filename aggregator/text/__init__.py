"""Language-aware text views (Arabic first): pure functions over strings, standard library only."""

from aggregator.text.arabic import (
    HAMZA_ALEF,
    clean_noise,
    display_view,
    matching_view,
    title_key,
    word_view,
)

__all__ = ["HAMZA_ALEF", "clean_noise", "display_view", "matching_view", "title_key",
           "word_view"]
