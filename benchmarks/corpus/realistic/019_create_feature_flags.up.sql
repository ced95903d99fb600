-- Reference data and a backfill: feature flags, on by plan.
CREATE TABLE feature_flags (
    key         text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]+$'),
    description text NOT NULL,
    min_plan    text REFERENCES plans (code) ON UPDATE CASCADE
);

CREATE TABLE organization_features (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    feature_key     text NOT NULL REFERENCES feature_flags (key) ON DELETE CASCADE,
    enabled         boolean NOT NULL DEFAULT true,
    PRIMARY KEY (organization_id, feature_key)
);

INSERT INTO feature_flags (key, description, min_plan) VALUES
    ('tasks.search', 'Full-text search over tasks', 'free'),
    ('tasks.labels', 'Labels on tasks', 'free'),
    ('reports.progress', 'Project progress reports', 'team'),
    ('billing.invoices', 'Invoices in the app', 'team'),
    ('api.keys', 'Organization API keys', 'business'),
    ('audit.export', 'Audit log export', 'enterprise');

ALTER TABLE organizations ADD COLUMN billing_country char(2) REFERENCES countries (code);
UPDATE organizations SET billing_country = 'US' WHERE billing_country IS NULL;
