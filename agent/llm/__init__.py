"""Chat models behind one contract: `Model.generate(system, messages, tools) -> Reply`.

Planner and executor import from here only, never a vendor SDK; `make_model`
imports the vendor's SDK when its model is made. A new vendor is a `Provider`
passed to `register`.
"""

from . import base
from .base import *  # noqa: F403  (the conversation types and the Model contract, as base.__all__ lists them)
from .pricing import cost
from .provider import Provider
from .registry import check_configured, context_window, make_model, parse_spec, register

__all__ = ["Provider", "check_configured", "context_window", "cost", "make_model", "parse_spec", "register"]
__all__ += base.__all__
