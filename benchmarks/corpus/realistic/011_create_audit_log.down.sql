DROP TRIGGER tasks_audit ON tasks;
DROP TRIGGER projects_audit ON projects;
DROP FUNCTION record_audit();
DROP TABLE audit_log;
