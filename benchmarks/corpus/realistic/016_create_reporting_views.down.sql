DROP MATERIALIZED VIEW organization_usage;
DROP VIEW open_tasks_by_assignee;
DROP VIEW project_progress;
