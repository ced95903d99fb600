ALTER TABLE organizations DROP COLUMN billing_country;
DROP TABLE organization_features;
DROP TABLE feature_flags;
