"""YAML reading for the data files: libyaml's C safe loader when PyYAML was built with it (about 10× faster than the
pure-Python loader on the corpus' rules and lexicon), the pure-Python safe loader otherwise. Both build the same
plain data (tests/test_corpus.py checks every data file parses identically)."""
from __future__ import annotations

from typing import Any

import yaml

SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str | bytes) -> Any:
    """Parse one YAML document safely (no arbitrary objects)."""
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a safe loader
