from memento.servers.research.server import main

if __name__ == "__main__":
    raise SystemExit(main())
