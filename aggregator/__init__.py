"""aggregator: a multilingual, Arabic-first news feed aggregator and republisher."""

__version__ = "0.1.0"
HOME_PAGE = "https://github.com/aggregator-news/aggregator"
USER_AGENT = f"aggregator/{__version__} (+{HOME_PAGE})"
