"""Where alerts come in: one parser per source, and the integration keys saying where they land.

The parsers are pure functions of the body (on base.py); keys.py resolves a key to its service.
Writing the alerts is the incidents' job (incidents.write_alerts). Heartbeat monitors take pings
(heartbeats.py) and say when one is due, late or down (heartbeat_schedule.py, pure); the engine
opens their incidents (incidents/heartbeats.py)."""

from types import ModuleType

from . import alertmanager, events_v2, generic, grafana

PARSERS: dict[str, ModuleType] = {m.SOURCE: m for m in (alertmanager, grafana, generic, events_v2)}
