DROP TRIGGER users_set_updated_at ON users;
DROP TRIGGER organizations_set_updated_at ON organizations;
DROP FUNCTION set_updated_at();
