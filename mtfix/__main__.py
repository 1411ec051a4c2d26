from mtfix.cli import main

raise SystemExit(main())
