from meshcompose.cli.main import main

raise SystemExit(main())
