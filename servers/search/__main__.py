from memento.servers.search.server import main

if __name__ == "__main__":  # guarded: conversion workers re-import the main module
    raise SystemExit(main())
