"""The platform's domain around the runtime: accounts, tenancy, privacy, administration, assembly."""
