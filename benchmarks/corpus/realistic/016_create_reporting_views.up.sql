CREATE VIEW project_progress AS
SELECT p.id AS project_id,
       p.organization_id,
       p.key,
       count(t.id) AS task_count,
       count(t.id) FILTER (WHERE t.status = 'done') AS done_count,
       round(100.0 * count(t.id) FILTER (WHERE t.status = 'done')
             / NULLIF(count(t.id), 0), 1) AS percent_done
  FROM projects p
  LEFT JOIN tasks t ON t.project_id = p.id
 WHERE NOT p.archived
 GROUP BY p.id;

CREATE VIEW open_tasks_by_assignee AS
SELECT u.id AS user_id, u.display_name, t.priority, count(*) AS open_count
  FROM tasks t
  JOIN users u ON u.id = t.assignee_id
 WHERE t.status NOT IN ('done', 'cancelled')
 GROUP BY u.id, u.display_name, t.priority;

CREATE MATERIALIZED VIEW organization_usage AS
SELECT o.id AS organization_id,
       count(DISTINCT m.user_id) AS seats,
       count(DISTINCT p.id) AS projects,
       max(t.updated_at) AS last_activity_at
  FROM organizations o
  LEFT JOIN memberships m ON m.organization_id = o.id
  LEFT JOIN projects p ON p.organization_id = o.id
  LEFT JOIN tasks t ON t.project_id = p.id
 GROUP BY o.id
WITH DATA;

CREATE UNIQUE INDEX organization_usage_pk ON organization_usage (organization_id);
