"""`remediator demo`: the sandbox and the real daemon, a red broker and a broken CMAK, narrated.

`scenario` starts everything and sums up; `story` plays the acts; `narrator` tells, from one
thread, what the daemon's driver, the sandbox's gateway and the clusters (`clusters`) do, in the
words of `wording` and `looks`; `facts` reads the sandbox's own record of restarts; `bundle`
writes the configuration shipped here (demo.yaml, rules/demo.yaml); `report` scrapes the metrics
and writes the summary.
"""
