"""Identity: users, roles and the outlets a channel lead may see, API tokens; every query scoped by scope_for."""
