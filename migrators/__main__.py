from migrators.cli import main

raise SystemExit(main())
