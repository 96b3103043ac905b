"""Reports: the frozen records natprobe's measurements return, their JSON form and its schema.

Every report has a schema id ``natprobe/<name>`` and a ``schema_version``, both carried in its
JSON form (``to_dict``), and a JSON Schema (2020-12) written next to it
(:mod:`natprobe.reports.catalog` lists them; ``natprobe schema`` prints them). The JSON keys
and outcome strings are a stable interface: ``schema_version`` changes whenever a key is
added, removed or changes meaning, and the schema of each version is closed (no other keys).
"""
