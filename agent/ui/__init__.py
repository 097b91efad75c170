"""`memento ui`: the run traces, the case memory and eval folders in a local web app."""
