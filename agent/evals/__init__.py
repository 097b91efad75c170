"""The evaluation harness: datasets, scorers, the eval loop, result files and reports (`memento eval`)."""
