"""What every part of Memento shares and nothing else: the error tree and the settings base.

`memento.core` imports no other Memento package, so the servers, the case
memory and the agent can all build on it without depending on each other.
"""

from .errors import MementoError, SettingsError
from .settings import MementoSettings, env_name, split_list

__all__ = ["MementoError", "MementoSettings", "SettingsError", "env_name", "split_list"]
