-- An invoice's total is the sum of its lines, kept by the database.
CREATE FUNCTION refresh_invoice_total() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    target bigint := COALESCE(NEW.invoice_id, OLD.invoice_id);
BEGIN
    UPDATE invoices
       SET total_cents = (SELECT COALESCE(sum(amount_cents), 0)
                            FROM invoice_lines WHERE invoice_id = target)
     WHERE id = target;
    RETURN NULL;
END;
$$;

CREATE TRIGGER invoice_lines_refresh_total
    AFTER INSERT OR UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION refresh_invoice_total();
