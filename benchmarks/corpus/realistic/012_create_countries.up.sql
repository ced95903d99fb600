-- Reference data: ISO 3166-1 countries used for billing addresses.
CREATE TABLE countries (
    code        char(2) PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
    name        text NOT NULL UNIQUE,
    eu_member   boolean NOT NULL DEFAULT false
);

INSERT INTO countries (code, name, eu_member) VALUES
    ('AT', 'Austria', true), ('AU', 'Australia', false), ('BE', 'Belgium', true),
    ('BR', 'Brazil', false), ('CA', 'Canada', false), ('CH', 'Switzerland', false),
    ('CZ', 'Czechia', true), ('DE', 'Germany', true), ('DK', 'Denmark', true),
    ('ES', 'Spain', true), ('FI', 'Finland', true), ('FR', 'France', true),
    ('GB', 'United Kingdom', false), ('IE', 'Ireland', true), ('IN', 'India', false),
    ('IT', 'Italy', true), ('JP', 'Japan', false), ('KR', 'South Korea', false),
    ('MX', 'Mexico', false), ('NL', 'Netherlands', true), ('NO', 'Norway', false),
    ('NZ', 'New Zealand', false), ('PL', 'Poland', true), ('PT', 'Portugal', true),
    ('SE', 'Sweden', true), ('SG', 'Singapore', false), ('US', 'United States', false),
    ('ZA', 'South Africa', false);
