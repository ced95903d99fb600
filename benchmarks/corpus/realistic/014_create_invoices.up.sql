CREATE TYPE invoice_status AS ENUM ('draft', 'open', 'paid', 'void');

CREATE TABLE invoices (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE RESTRICT,
    number          text NOT NULL UNIQUE,
    currency        char(3) NOT NULL REFERENCES currencies (code),
    country         char(2) NOT NULL REFERENCES countries (code),
    status          invoice_status NOT NULL DEFAULT 'draft',
    total_cents     bigint NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
    period_start    date NOT NULL,
    period_end      date NOT NULL,
    issued_at       timestamptz,
    paid_at         timestamptz,
    CONSTRAINT invoices_period_valid CHECK (period_end > period_start),
    CONSTRAINT invoices_paid_after_issued CHECK (paid_at IS NULL OR paid_at >= issued_at)
);

CREATE TABLE invoice_lines (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invoice_id      bigint NOT NULL REFERENCES invoices (id) ON DELETE CASCADE,
    description     text NOT NULL,
    quantity        integer NOT NULL CHECK (quantity > 0),
    unit_cents      bigint NOT NULL CHECK (unit_cents >= 0),
    amount_cents    bigint GENERATED ALWAYS AS (quantity * unit_cents) STORED
);

CREATE INDEX invoices_org_period_idx ON invoices (organization_id, period_start DESC);
CREATE INDEX invoices_unpaid_idx ON invoices (issued_at) WHERE status = 'open';
CREATE INDEX invoice_lines_invoice_idx ON invoice_lines (invoice_id);
