"""The echo server's web checker (:mod:`~natprobe_server.web.page`): ``GET /`` (and ``/jamulus``) for people without a terminal.

One more client of the same HTTP API (``/v1/whoami``, ``/v1/probe``, ``/v1/dns``,
``/v1/exposure``, and ``/v1/explain`` for natprobe's verdicts and findings), with the same
limits and the same requester-only rule: the page decides nothing itself.

Static files plus one small script, no template engine and no Node build: the page is one
HTML file whose ``{{key}}`` slots are filled, HTML-escaped, with the catalog's sentences in
the visitor's language (:mod:`natprobe_server.web.texts`), and the script receives its own
sentences and the server's settings as a JSON data block (not executed, so the strict
Content-Security-Policy needs no hash). Nothing is loaded from elsewhere, no cookie is set.

Language: ``?lang=fr`` or ``?lang=en`` wins, else the ``Accept-Language`` header; the page
links to both (the visible switch).
"""
