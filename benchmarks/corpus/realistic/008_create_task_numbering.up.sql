-- Per-project task numbers (PROJ-1, PROJ-2, ...) assigned by the database.
CREATE TABLE project_counters (
    project_id  bigint PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    last_number integer NOT NULL DEFAULT 0
);

CREATE FUNCTION assign_task_number() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO project_counters AS c (project_id, last_number)
    VALUES (NEW.project_id, 1)
    ON CONFLICT (project_id) DO UPDATE SET last_number = c.last_number + 1
    RETURNING last_number INTO NEW.number;
    RETURN NEW;
END;
$$;

CREATE TRIGGER tasks_assign_number
    BEFORE INSERT ON tasks
    FOR EACH ROW WHEN (NEW.number IS NULL)
    EXECUTE FUNCTION assign_task_number();

ALTER TABLE tasks ALTER COLUMN number DROP NOT NULL;
