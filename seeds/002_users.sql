-- Development users, looked up by organization slug. Idempotent: lower(email) is unique.
INSERT INTO users (organization_id, email, display_name, role)
SELECT o.id, v.email, v.display_name, v.role
FROM (
    VALUES
        ('acme', 'ada@acme.example', 'Ada Lovelace', 'owner'),
        ('acme', 'grace@acme.example', 'Grace Hopper', 'admin'),
        ('acme', 'linus@acme.example', 'Linus Torvalds', 'member'),
        ('acme', 'margaret@acme.example', 'Margaret Hamilton', 'member'),
        ('globex', 'hank@globex.example', 'Hank Scorpio', 'owner'),
        ('globex', 'frank@globex.example', 'Frank Grimes', 'member'),
        ('initech', 'bill@initech.example', 'Bill Lumbergh', 'owner'),
        ('initech', 'peter@initech.example', 'Peter Gibbons', 'member')
) AS v (org_slug, email, display_name, role)
JOIN organizations o ON o.slug = v.org_slug
WHERE NOT EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = lower(v.email));
