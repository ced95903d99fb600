ALTER TABLE tasks ALTER COLUMN number SET NOT NULL;
DROP TRIGGER tasks_assign_number ON tasks;
DROP FUNCTION assign_task_number();
DROP TABLE project_counters;
