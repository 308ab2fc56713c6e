"""``python -m domainrag …``: the same command line as the ``domainrag`` script."""

from domainrag.cli.main import main

raise SystemExit(main())
