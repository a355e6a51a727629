"""The corpus holds services *as input data* for the codemod scorer: never collect their tests here."""

collect_ignore_glob = ["*"]
