from otelkit.cli import main

raise SystemExit(main())
