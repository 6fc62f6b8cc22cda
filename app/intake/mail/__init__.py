"""Client e-mail intake: parse (pure), recipients, senders (allowed, held, loops, rate), store
(the raw message, before anything else), listener (SMTP), threads (Message-IDs)."""

from .parse import Parsed, parse
from .recipients import Recipient, resolve
from .senders import Decision, Rules, rules_of
from .store import Admitted, admit

__all__ = ["Admitted", "Decision", "Parsed", "Recipient", "Rules", "admit", "parse", "resolve", "rules_of"]
