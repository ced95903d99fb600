CREATE TABLE organizations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name        text NOT NULL CHECK (length(btrim(name)) > 0),
    plan_code   text NOT NULL DEFAULT 'free' REFERENCES plans (code) ON UPDATE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);

CREATE INDEX organizations_plan_code_idx ON organizations (plan_code);
CREATE INDEX organizations_active_idx ON organizations (created_at) WHERE deleted_at IS NULL;
COMMENT ON TABLE organizations IS 'Tenants: every row of application data belongs to one.';
