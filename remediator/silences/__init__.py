"""Alertmanager's silences, asked before acting (SPEC section 10).

`matching.py` reads API v2 silences and decides, purely, whether one holds a target;
`client.py` asks Alertmanager (one of several, an HA pair), with a brief cache.
"""
