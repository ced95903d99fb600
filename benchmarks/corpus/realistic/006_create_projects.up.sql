CREATE TABLE projects (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key             text NOT NULL CHECK (key ~ '^[A-Z][A-Z0-9]{1,9}$'),
    name            text NOT NULL,
    description     text,
    archived        boolean NOT NULL DEFAULT false,
    created_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_org_key_unique UNIQUE (organization_id, key)
);

CREATE INDEX projects_open_idx ON projects (organization_id) WHERE NOT archived;

CREATE TRIGGER projects_set_updated_at
    BEFORE UPDATE ON projects
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
