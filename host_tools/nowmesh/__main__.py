from nowmesh.cli import main

raise SystemExit(main())
