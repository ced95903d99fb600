"""nexus-provisioning: bring PostgreSQL from "maybe not up yet" to migrated, verified and seeded."""
