from sabaq.cli import main

raise SystemExit(main())
