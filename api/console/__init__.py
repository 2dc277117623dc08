"""The web console (issue 12): served at ``/`` by the API's app, signed in with an API token.

Sessions live in server memory (:mod:`.sessions`); the pages are plain HTML with no script and
no external asset (:mod:`.pages`); the routes are :mod:`.routes`.
"""

__all__: list[str] = []
