-- Development organizations. Idempotent: the slug is the natural key.
INSERT INTO organizations (slug, name)
VALUES
    ('acme', 'Acme Corporation'),
    ('globex', 'Globex Industries'),
    ('initech', 'Initech')
ON CONFLICT (slug) DO NOTHING;
