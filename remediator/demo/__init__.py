"""`remediator demo`: the sandbox and the real daemon, a broken manager tool, narrated.

`scenario` runs the story; `narrator` tells it from the daemon's driver and the sandbox's
gateway, and `clusters` adds each change of a cluster's status; `bundle` writes the
configuration shipped here (demo.yaml, rules/demo.yaml); `report` scrapes the metrics and sums up.
"""
