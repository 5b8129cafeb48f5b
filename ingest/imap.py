"""Wiring of the IMAP puller to durable intake and the checkpoint table."""

from __future__ import annotations

import os
import threading
from dataclasses import replace

from channels.email.imap import Checkpoint, ImapAccount, ImapPuller
from channels.email.keys import email_source_keys
from ingest.app import Runtime
from ingest.config import ImapAccountConfig
from ingest.errors import ConfigError
from ingest.intake import Receipt
from ingest.logs import get_logger
from ingest.model import ChannelMeta
from ingest.store import Store

log = get_logger("imap")


class StoreCheckpoints:
    """The puller's checkpoint store, kept in the ``imap_checkpoint`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, account: str, folder: str) -> Checkpoint | None:
        """The saved checkpoint, if the folder was pulled before."""
        row = self.store.load_checkpoint(account, folder)
        return Checkpoint(*row) if row else None

    def save(self, account: str, folder: str, checkpoint: Checkpoint) -> None:
        """Persist progress (committed before returning)."""
        self.store.save_checkpoint(account, folder, checkpoint.uidvalidity, checkpoint.last_uid)


def account_from_config(cfg: ImapAccountConfig, env: dict[str, str] | None = None
                        ) -> ImapAccount:
    """Build the puller's account, taking the password from the named env variable."""
    env = dict(os.environ if env is None else env)
    password = env.get(cfg.password_env)
    if not password:
        raise ConfigError(f"environment variable {cfg.password_env} is not set; it must hold "
                          f"the password of IMAP account {cfg.name!r}",
                          file="config/kcs.yaml", key="imap.accounts.password_env")
    return ImapAccount(name=cfg.name, host=cfg.host, port=cfg.port, username=cfg.username,
                       password=password, ssl=cfg.ssl, starttls=cfg.starttls,
                       folders=cfg.folders, after_intake=cfg.after_intake, move_to=cfg.move_to,
                       idle=cfg.idle, poll_interval_s=cfg.poll_interval_s)


def make_puller(rt: Runtime, account: ImapAccount) -> ImapPuller:
    """A puller whose accepts also carry the Message-ID key (dedupes against SMTP)."""

    def accept(raw: bytes, meta: ChannelMeta) -> Receipt:
        keys = meta.source_keys + email_source_keys(raw)
        return rt.intake.accept(raw, replace(meta, source_keys=keys))

    return ImapPuller(account, accept, StoreCheckpoints(rt.store))


def run_pullers(rt: Runtime, stop: threading.Event) -> None:
    """One thread per configured account, until ``stop``."""
    threads = []
    for cfg in rt.settings.kcs.imap.accounts:
        puller = make_puller(rt, account_from_config(cfg))
        thread = threading.Thread(target=puller.run, args=(stop,), name=f"imap-{cfg.name}",
                                  daemon=True)
        thread.start()
        threads.append(thread)
        log.info("imap.started", account=cfg.name)
    stop.wait()
    for thread in threads:
        thread.join(timeout=10)
