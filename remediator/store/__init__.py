"""The ledger: the durable record of intents, outcomes, remediations, breakers and pauses,
and the history of decisions and operator acts.

One interface (`Ledger`); `sql.py` holds its SQL, `receipts.py` the webhook alert receipts
(group commit, re-sends answered from memory), and each backend its connection: `sqlite.py`
(the embedded default) and `postgres.py` (`state.url`; one daemon per ledger).
"""

from __future__ import annotations

from pathlib import Path

from remediator.errors import RemediatorError
from remediator.store.history import HistoryEntry
from remediator.store.ledger import Ledger, LedgerAction
from remediator.store.sqlite import SqliteLedger

__all__ = ["HistoryEntry", "Ledger", "LedgerAction", "open_ledger"]


def open_ledger(
    *, path: Path | str | None, url: str | None, source: object = "", exclusive: bool = True
) -> Ledger:
    """The ledger a config's `state:` names: SQLite at `path`, or PostgreSQL at `url`.

    `exclusive=False` reads a ledger that a running daemon holds (the operator's `status`);
    otherwise a second holder is refused (`LedgerBusy`). `source` (the config file) names
    where `url` came from in errors.
    """
    if url is not None:
        try:  # psycopg is the `postgres` extra: imported only when a config asks for it
            from remediator.store.postgres import PostgresLedger  # noqa: PLC0415
        except ImportError as exc:
            raise RemediatorError(
                f"{source}: state.url needs psycopg ({exc}): pip install 'remediator[postgres]'"
            ) from None
        return PostgresLedger(url, exclusive=exclusive)
    assert path is not None
    return SqliteLedger(path, exclusive=exclusive)
