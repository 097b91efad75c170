from memento.servers.casebank.server import main

if __name__ == "__main__":
    raise SystemExit(main())
