"""Feeds as sources (issue 12): the registry of feeds (``registry``), polite fetching with
every address checked (``fetch``, ``address``), parsing RSS, Atom and JSON Feed (``parse``),
entries to articles (``entries``, ``html``), polling with state and failing-feed reports
(``poll``) and the loop ``newsbot run`` keeps (``loop``)."""
