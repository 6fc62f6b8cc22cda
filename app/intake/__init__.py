"""Where alerts come in: one parser per source (pure functions of the body, on base.py) and the
integration keys that say where an alert lands (keys.py). Writing the alerts is the incidents'
job (incidents.write_alerts)."""

from types import ModuleType

from . import alertmanager, events_v2, generic, grafana

PARSERS: dict[str, ModuleType] = {m.SOURCE: m for m in (alertmanager, grafana, generic, events_v2)}
