"""All writes to the registry. Views, the API and commands call these; they never write rows themselves."""
