CREATE TYPE task_status AS ENUM ('todo', 'in_progress', 'blocked', 'done', 'cancelled');

CREATE TABLE tasks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number      integer NOT NULL CHECK (number > 0),
    title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    body        text NOT NULL DEFAULT '',
    status      task_status NOT NULL DEFAULT 'todo',
    priority    smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 5),
    assignee_id bigint REFERENCES users (id) ON DELETE SET NULL,
    reporter_id bigint REFERENCES users (id) ON DELETE SET NULL,
    estimate    interval,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz,
    search      tsvector GENERATED ALWAYS AS (
                    to_tsvector('english', title || ' ' || body)
                ) STORED,
    CONSTRAINT tasks_project_number_unique UNIQUE (project_id, number),
    CONSTRAINT tasks_closed_consistent CHECK (
        (status IN ('done', 'cancelled')) = (closed_at IS NOT NULL)
    )
);

CREATE INDEX tasks_assignee_open_idx ON tasks (assignee_id, priority)
    WHERE status NOT IN ('done', 'cancelled');
CREATE INDEX tasks_search_idx ON tasks USING gin (search);

CREATE TRIGGER tasks_set_updated_at
    BEFORE UPDATE ON tasks
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
