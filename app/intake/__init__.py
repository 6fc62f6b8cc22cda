"""Where alerts come in: one parser per source (pure functions of the body) and the integration
keys that say where an alert lands."""
