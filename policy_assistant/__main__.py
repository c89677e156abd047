from policy_assistant.cli import main

raise SystemExit(main())
