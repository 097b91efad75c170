from memento.servers.code.server import main

if __name__ == "__main__":
    raise SystemExit(main())
