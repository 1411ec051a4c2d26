"""`mtfix serve`: LanguageTool's HTTP API and a review page, so that editors show mtfix's flags inline."""
