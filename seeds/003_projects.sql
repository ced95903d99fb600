-- Development projects, looked up by organization slug. Idempotent: (organization, key) is unique.
INSERT INTO projects (organization_id, key, name, description)
SELECT o.id, v.key, v.name, v.description
FROM (
    VALUES
        ('acme', 'WEB', 'Website', 'The public marketing site and its content pipeline.'),
        ('acme', 'API', 'Public API', 'Versioned REST API for partners.'),
        ('acme', 'OPS', 'Operations', 'Infrastructure, on-call and provisioning.'),
        ('globex', 'HAM', 'Hammock District', 'Campus facilities planning.'),
        ('initech', 'TPS', 'TPS Reports', 'Cover sheets for every report, every time.')
) AS v (org_slug, key, name, description)
JOIN organizations o ON o.slug = v.org_slug
ON CONFLICT (organization_id, key) DO NOTHING;

-- One archived project, so list views have something to hide.
INSERT INTO projects (organization_id, key, name, description, archived_at)
SELECT o.id, 'LEGACY', 'Legacy Portal', 'Retired in favour of WEB.', now() - interval '90 days'
FROM organizations o
WHERE o.slug = 'acme'
ON CONFLICT (organization_id, key) DO NOTHING;
