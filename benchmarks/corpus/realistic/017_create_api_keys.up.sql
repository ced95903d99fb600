CREATE TABLE api_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    prefix          char(8) NOT NULL,
    secret_hash     bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    scopes          text[] NOT NULL DEFAULT '{}' CHECK (scopes <@ ARRAY['read', 'write', 'admin']),
    created_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    expires_at      timestamptz,
    revoked_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX api_keys_live_prefix_key ON api_keys (prefix) WHERE revoked_at IS NULL;
CREATE INDEX api_keys_org_idx ON api_keys (organization_id);
