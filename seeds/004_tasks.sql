-- Development tasks, looked up by organization slug, project key and assignee email.
-- Idempotent: a task is identified by its project and title.
INSERT INTO tasks (project_id, assignee_id, title, status, priority, due_date)
SELECT p.id, u.id, v.title, v.status, v.priority, CURRENT_DATE + v.due_in_days
FROM (
    VALUES
        ('acme', 'WEB', 'grace@acme.example', 'Redesign the pricing page', 'in_progress', 2, 14),
        ('acme', 'WEB', 'linus@acme.example', 'Fix broken links in the blog', 'todo', 3, 7),
        ('acme', 'WEB', NULL, 'Audit image sizes', 'todo', 4, NULL),
        ('acme', 'API', 'ada@acme.example', 'Publish the v2 changelog', 'done', 2, -3),
        ('acme', 'API', 'margaret@acme.example', 'Rate-limit the search endpoint', 'in_progress', 1, 3),
        ('acme', 'OPS', 'linus@acme.example', 'Rotate database credentials', 'todo', 1, 2),
        ('acme', 'OPS', 'margaret@acme.example', 'Run provisioning in CI', 'done', 2, -10),
        ('globex', 'HAM', 'frank@globex.example', 'Order more hammocks', 'todo', 3, 30),
        ('initech', 'TPS', 'peter@initech.example', 'Add the new cover sheet', 'todo', 2, 1),
        ('initech', 'TPS', 'bill@initech.example', 'Send the memo about cover sheets', 'done', 4, -1)
) AS v (org_slug, project_key, assignee_email, title, status, priority, due_in_days)
JOIN organizations o ON o.slug = v.org_slug
JOIN projects p ON p.organization_id = o.id AND p.key = v.project_key
LEFT JOIN users u ON lower(u.email) = lower(v.assignee_email)
WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.project_id = p.id AND t.title = v.title);
