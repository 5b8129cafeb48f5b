"""Acknowledgements: whether to answer, on which channel, in which language, and the answer.

The decision is made once, when the item is published (``plan``), and stored
on the item; the acknowledge stage renders and delivers exactly that plan.

Modules, one idea each:

- ``config``: the ``ack:`` section of ``config/kcs.yaml``;
- ``loopguard``: never answer a robot (RFC 3834, DSNs, lists, our own mail,
  SMS carrier auto-responses);
- ``preference``: the sender's stated reply channel ("svara gärna på sms");
- ``deadlines``: working days with Swedish public and de-facto holidays;
- ``plan``: channel, recipient, language, template and deadline;
- ``texts`` and ``templates``: per-language texts and per-channel Jinja2 templates
  in ``config/templates/ack/``;
- ``crisis``: the operator's crisis banner;
- ``letters``: the printable PDF letter (right-to-left aware);
- ``ratelimit``: one limit per recipient across channels, shared in Redis;
- ``delivery``: the durable e-mail outbox and SMTP relay, SMS, the print queue;
- ``service``: what the acknowledge stage calls.

This package's ``__init__`` imports nothing, so ``ingest.config`` can import
``ingest.ack.config`` without a cycle.
"""
