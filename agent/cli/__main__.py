"""`python -m memento.agent.cli`: the same as the `memento` console script."""

from .root import main

if __name__ == "__main__":  # a spawned worker re-imports this module: it must not start the CLI again
    main()
