"""政策通 application shell: settings, CLI and the service container that wires the roles together."""
import os

# Offline by default: never reach a model hub, never send telemetry. Cheap, so safe at import.
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
}.items():
    os.environ.setdefault(_key, _value)

__version__ = "0.1.0"
