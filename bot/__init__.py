"""newsbot: a moderated queue of news articles published to Discord as digests."""

__version__ = "0.1.0"
