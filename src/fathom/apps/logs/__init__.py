"""Protocol logs: one sans-IO parser per protocol turns a flow's messages into EVE event bodies
with Suricata's field names (:class:`fathom.apps.logs.base.LogParser`). The registry
(:mod:`fathom.apps.logs.registry`) maps the services the wizard names to their parsers; the app
layer feeds a named flow's data to its parser and writes what it returns."""
