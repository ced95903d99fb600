-- Projects: a short upper-case key per organization (e.g. NEX), optionally archived.
CREATE TABLE projects (
    id BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations ON DELETE CASCADE,
    key TEXT NOT NULL CHECK (key ~ '^[A-Z][A-Z0-9]{1,9}$'),
    name TEXT NOT NULL,
    description TEXT,
    archived_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (organization_id, key)
);
