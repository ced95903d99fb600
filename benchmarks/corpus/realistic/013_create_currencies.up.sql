-- Reference data: ISO 4217 currencies and their minor units.
CREATE TABLE currencies (
    code        char(3) PRIMARY KEY CHECK (code ~ '^[A-Z]{3}$'),
    name        text NOT NULL,
    minor_units smallint NOT NULL CHECK (minor_units BETWEEN 0 AND 4)
);

INSERT INTO currencies (code, name, minor_units) VALUES
    ('AUD', 'Australian dollar', 2), ('BRL', 'Brazilian real', 2),
    ('CAD', 'Canadian dollar', 2), ('CHF', 'Swiss franc', 2),
    ('EUR', 'Euro', 2), ('GBP', 'Pound sterling', 2), ('INR', 'Indian rupee', 2),
    ('JPY', 'Japanese yen', 0), ('KRW', 'South Korean won', 0), ('NOK', 'Norwegian krone', 2),
    ('SEK', 'Swedish krona', 2), ('SGD', 'Singapore dollar', 2), ('USD', 'US dollar', 2);
