-- Reference data: the subscription plans every organization is on.
CREATE TABLE plans (
    code            text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
    name            text NOT NULL,
    monthly_cents   integer NOT NULL CHECK (monthly_cents >= 0),
    seat_limit      integer CHECK (seat_limit IS NULL OR seat_limit > 0),
    is_public       boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO plans (code, name, monthly_cents, seat_limit, is_public) VALUES
    ('free', 'Free', 0, 3, true),
    ('team', 'Team', 2900, 25, true),
    ('business', 'Business', 9900, 250, true),
    ('enterprise', 'Enterprise', 49900, NULL, false);
